package regionctl_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/regionctl"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// run runs the real regionctl program.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(labtest.Bin().Regionctl, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Env = append(os.Environ(), "REGIONCTL_CONFIG=", "REGIONCTL_TOKEN=")
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestLabLifecycleCLI drives the lab the way an operator does.
func TestLabLifecycleCLI(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { run(t, "lab", "down", "--dir", dir) })
	t0 := time.Now()
	out, errOut, err := run(t, "lab", "up", "--regions", "a,b", "--dir", dir, "--json")
	if err != nil {
		t.Fatalf("lab up: %v\n%s", err, errOut)
	}
	t.Logf("lab up (2 regions) took %s", time.Since(t0).Round(time.Millisecond))
	var info lab.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("lab up --json printed %q: %v", out, err)
	}
	if info.Dir != dir || len(info.Etcd) != 1 || len(info.Regions) != 2 || info.Regions[1].Name != "b" ||
		!strings.HasPrefix(info.Regions[0].API, "http://127.0.0.1:") || len(info.Regions[0].Kafka) != 1 || len(info.Regions[0].Token) < 32 {
		t.Errorf("lab up --json = %s", out)
	}
	if !strings.Contains(errOut, "lab up in") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	// status turns healthy once regiond's first checks ran.
	var rep regionctl.StatusReport
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, errOut, err = run(t, "status", "--dir", dir, "--json")
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
			t.Fatalf("status --json printed %q (%s): %v", out, errOut, jerr)
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil || len(rep.Regions) != 2 || rep.Regions[0].Status == nil || !rep.Regions[0].Status.Healthy {
		t.Fatalf("status: %v %s", err, out)
	}
	out, _, err = run(t, "status", "--dir", dir)
	if err != nil || !strings.Contains(out, "region a  healthy") || !strings.Contains(out, "kafka  ok") {
		t.Errorf("status (text): %v\n%s", err, out)
	}

	if _, errOut, err := run(t, "lab", "up", "--dir", dir); err == nil || !strings.Contains(errOut, "already running") {
		t.Errorf("second lab up: err=%v %s", err, errOut)
	}
	if _, errOut, err := run(t, "lab", "net", "--dir", dir, "--from", "a", "--to", "b", "--partition"); err == nil || !strings.Contains(errOut, "lab up --wan") {
		t.Errorf("lab net on a lab without --wan: err=%v %s", err, errOut)
	}
	// regiond refuses a kill-mode schedule with a hint: --json carries it.
	out, errOut, err = run(t, "drill", "schedule", "--plan", "../deploy/drills/monthly.yaml", "--dir", dir, "--json")
	if e := jsonError(t, out); exitCode(err) != regionctl.ExitFailed || !strings.Contains(e.Error, "400 Bad Request: plan monthly: target.mode kill") ||
		!strings.Contains(e.Hint, "target.mode: fence") || e.ExitCode != regionctl.ExitFailed || !strings.Contains(errOut, "regionctl: drill schedule: 400 Bad Request") {
		t.Errorf("drill schedule of a kill plan --json: %v %+v\n%s", err, e, errOut)
	}
	out, _, err = run(t, "lab", "status", "--dir", dir, "--json")
	var cs []lab.ComponentStatus
	if err != nil || json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 1+4*2+1 {
		t.Fatalf("lab status: %v %s", err, out)
	}
	if _, errOut, err := run(t, "lab", "down", "--dir", dir); err != nil {
		t.Fatalf("lab down: %v %s", err, errOut)
	}
	out, _, _ = run(t, "lab", "status", "--dir", dir, "--json")
	_ = json.Unmarshal([]byte(out), &cs)
	for _, c := range cs {
		if c.State != "down" {
			t.Errorf("after down: %+v", c)
		}
	}
	// With every regiond down, status says so and fails.
	out, _, err = run(t, "status", "--dir", dir)
	if err == nil || !strings.Contains(out, "UNREACHABLE") {
		t.Errorf("status of a stopped lab: %v\n%s", err, out)
	}
	out, _, err = run(t, "route", "get", "--user", "1", "--dir", dir, "--json")
	if e := jsonError(t, out); exitCode(err) != regionctl.ExitFailed || !strings.Contains(e.Error, "no regiond answers") || e.ExitCode != regionctl.ExitFailed {
		t.Errorf("route get --json on a stopped lab: %v %+v", err, e)
	}
}

// exitCode is the exit status of a run's error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// jsonError decodes stdout of a failed --json run: exactly one error object.
func jsonError(t *testing.T, stdout string) regionctl.ErrorJSON {
	t.Helper()
	var e regionctl.ErrorJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || dec.More() {
		t.Errorf("stdout is not one JSON error object (%v):\n%s", err, stdout)
	}
	return e
}

// TestLabUpIsReady: the moment `lab up` returns, the lab answers the
// commands its docs show: route get answers (no 503 while a regiond is
// still reading the routing table), and drill run runs (its users' loans
// go into the sample schema, which lab up created in every region). The
// drill is the cheapest real one: a precheck with checksums, under the
// drill's client load, and the ledger check.
func TestLabUpIsReady(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { run(t, "lab", "down", "--dir", dir) })
	if _, errOut, err := run(t, "lab", "up", "--regions", "a,b", "--dir", dir); err != nil {
		t.Fatalf("lab up: %v\n%s", err, errOut)
	}
	out, errOut, err := run(t, "route", "get", "--user", "1", "--dir", dir, "--json")
	var a struct {
		Cell  string
		Epoch uint64
	}
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.Cell == "" || a.Epoch == 0 {
		t.Fatalf("route get right after lab up: %v\n%s%s", err, out, errOut)
	}

	plan := filepath.Join(t.TempDir(), "precheck.yaml")
	if err := os.WriteFile(plan, []byte(`name: precheck
environment: lab
target:
  mode: fence
steps:
  - kind: precheck
    criteria:
      max_lag: 5s
      checksums: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = run(t, "drill", "run", "--plan", plan, "--dir", dir, "--report", filepath.Join(t.TempDir(), "report"), "--operator", "test", "--json")
	var rep struct {
		Outcome string
		Ledger  struct{ Acknowledged int }
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Outcome != "passed" || rep.Ledger.Acknowledged == 0 {
		t.Fatalf("drill run right after lab up: %v %+v\n%s", err, rep, errOut)
	}
}

func TestConfigCheck(t *testing.T) {
	out, _, err := run(t, "config", "check", "../config/testdata/valid.yaml")
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("valid: %v %q", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("regions: [{name: a, mysql: {dsn: 'root@tcp(db)/'}}]\n"), 0o600)
	out, _, err = run(t, "config", "check", bad)
	if err == nil || !strings.Contains(out, "regions[0].mysql.dsn: missing port") || !strings.Contains(out, "etcd.endpoints: missing") {
		t.Errorf("bad: %v\n%s", err, out)
	}
	out, _, err = run(t, "config", "check", bad, "--json")
	var res struct {
		OK       bool
		Problems []struct{ Field, Message string }
	}
	if err == nil || json.Unmarshal([]byte(out), &res) != nil || res.OK || len(res.Problems) < 3 {
		t.Errorf("bad --json: %v\n%s", err, out)
	}
	if _, errOut, err := run(t, "config", "check", "/nonexistent.yaml"); err == nil || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: %v %s", err, errOut)
	}
	if _, errOut, err := run(t, "status"); err == nil || !strings.Contains(errOut, "pass --config FILE") {
		t.Errorf("status without deployment: %v %s", err, errOut)
	}
	if _, errOut, err := run(t, "lab", "up"); err == nil || !strings.Contains(errOut, "--dir is required") {
		t.Errorf("lab up without dir: %v %s", err, errOut)
	}
}

// TestHelpTeaches: every command a person runs has a description and an
// example in its --help.
func TestHelpTeaches(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Short == "" {
			t.Errorf("%q has no short description", c.CommandPath())
		}
		if c.Runnable() && c.Example == "" {
			t.Errorf("%q --help has no example", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(regionctl.New(&bytes.Buffer{}, &bytes.Buffer{}))
}
