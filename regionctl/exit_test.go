package regionctl_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regionplatform/region/regionctl"
)

// TestExitStatusAndErrors: every command line regionctl refuses exits 2
// (usage) and every other failure 1; the last stderr line says why, a
// usage error points to the command's --help, and with --json stdout holds
// one JSON document: the error object, or the command's own result when
// it printed one (config check).
func TestExitStatusAndErrors(t *testing.T) {
	t.Setenv("REGIONCTL_CONFIG", "")
	t.Setenv("REGIONCTL_TOKEN", "")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("regions: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // in the stderr of the run without --json
		hint   string // in the error object's hint ("" none expected)
		result bool   // with --json, stdout is the command's result, not an error object
		// onlyJSON: run with --json only (without, lab demo would start a lab).
		onlyJSON bool
	}{
		{"unknown command", []string{"statsu"}, regionctl.ExitUsage, `unknown command "statsu" for "regionctl": did you mean status?`, "'regionctl --help'", false, false},
		{"unknown subcommand", []string{"lab", "upp"}, regionctl.ExitUsage, `unknown command "upp" for "regionctl lab": did you mean up?`, "'regionctl lab --help'", false, false},
		{"unknown flag", []string{"route", "get", "--usr", "1"}, regionctl.ExitUsage, "unknown flag: --usr", "'regionctl route get --help'", false, false},
		{"bad flag value", []string{"route", "history", "--limit", "ten"}, regionctl.ExitUsage, `invalid argument "ten"`, "'regionctl route history --help'", false, false},
		{"argument count", []string{"controller", "remove-voter", "c", "10.0.3.5:7300"}, regionctl.ExitUsage, "accepts 1 arg(s), received 2", "'regionctl controller remove-voter --help'", false, false},
		{"missing flag", []string{"route", "get", "--dir", "/nonexistent"}, regionctl.ExitUsage, "--user: missing", "'regionctl route get --help'", false, false},
		{"no deployment", []string{"status"}, regionctl.ExitUsage, "no deployment: pass --config FILE", "'regionctl status --help'", false, false},
		{"demo has no json", []string{"lab", "demo", "--dir", "/nonexistent"}, regionctl.ExitUsage, "has no --json output", "'regionctl lab demo --help'", false, true},
		{"missing file", []string{"config", "check", "/nonexistent.yaml"}, regionctl.ExitFailed, "no such file", "", false, false},
		{"config problems", []string{"config", "check", bad}, regionctl.ExitFailed, "problem(s) in " + bad, "", true, false},
		{"bench verify flags", []string{"bench", "verify", "--rows", "0", "--every", "1s"}, regionctl.ExitUsage, "--every 1s: give the replication.verify_every", "'regionctl bench verify --help'", false, false},
		{"bench switch flags", []string{"bench", "switch", "--background", "-5"}, regionctl.ExitUsage, "--background -5: give 0 (no background job)", "'regionctl bench switch --help'", false, false},
		{"bench replication flags", []string{"bench", "replication", "--backlog", "-5"}, regionctl.ExitUsage, "--backlog -5: give 0 (no backlog phase)", "'regionctl bench replication --help'", false, false},
		{"bench replication runs", []string{"bench", "replication", "--runs", "nope"}, regionctl.ExitUsage, `--runs "nope": choose from region-platform`, "'regionctl bench replication --help'", false, false},
		{"bench failover flags", []string{"bench", "failover", "--runs", "0"}, regionctl.ExitUsage, "--runs 0: give 1 or more fresh labs", "'regionctl bench failover --help'", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if !tc.onlyJSON {
				code := regionctl.Main(tc.args, &out, &errOut)
				lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
				last := lines[len(lines)-1]
				if code != tc.code || !strings.HasPrefix(last, "regionctl: ") && !strings.HasPrefix(last, "hint: ") || !strings.Contains(errOut.String(), tc.stderr) {
					t.Errorf("exit %d (want %d), stderr:\n%s", code, tc.code, errOut.String())
				}
				if tc.hint != "" && !(strings.HasPrefix(last, "hint: ") && strings.Contains(last, tc.hint)) {
					t.Errorf("last stderr line %q: want a hint naming %s", last, tc.hint)
				}
			}
			out.Reset()
			errOut.Reset()
			code := regionctl.Main(append(tc.args, "--json"), &out, &errOut)
			if code != tc.code || !strings.HasPrefix(errOut.String(), "regionctl: ") && !strings.Contains(errOut.String(), "\nregionctl: ") {
				t.Errorf("--json: exit %d (want %d), stderr:\n%s", code, tc.code, errOut.String())
			}
			dec := json.NewDecoder(&out)
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("--json: stdout is not JSON: %v\n%s", err, out.String())
			}
			if dec.More() {
				t.Errorf("--json: more than one JSON document on stdout")
			}
			if tc.result {
				if _, ok := doc["error"]; ok {
					t.Errorf("--json: an error object where the command's result belongs: %v", doc)
				}
				return
			}
			msg, _ := doc["error"].(string)
			hint, _ := doc["hint"].(string)
			if msg == "" || doc["exit_code"] != float64(tc.code) || !strings.Contains(msg, tc.stderr) || !strings.Contains(hint, tc.hint) {
				t.Errorf("--json: error object %v: want error %q, hint with %q, exit_code %d", doc, tc.stderr, tc.hint, tc.code)
			}
		})
	}
}

// TestExitStatusZero: a command that succeeds, and a bare command group
// (which prints its help), exit 0 and print no error.
func TestExitStatusZero(t *testing.T) {
	for _, args := range [][]string{{"chaos", "list"}, {"lab"}, {}} {
		var out, errOut bytes.Buffer
		if code := regionctl.Main(args, &out, &errOut); code != regionctl.ExitOK || errOut.Len() != 0 || out.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q, %d bytes on stdout", args, code, errOut.String(), out.Len())
		}
	}
}
