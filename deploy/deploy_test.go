// Package deploy_test checks the deployment artifacts in deploy/: the
// example configs load, the systemd units verify and start regiond with
// flags it has, and the binary the Containerfile copies needs no libc.
package deploy_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// TestExampleConfigs: both examples load and validate.
func TestExampleConfigs(t *testing.T) {
	for _, f := range []string{"example.yaml", "three-regions.yaml"} {
		cfg, err := config.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		t.Logf("%s: %d regions, %d cells, witness %v", f, len(cfg.Regions), len(cfg.Cells), cfg.Controller.Witness != nil)
	}
}

// TestSystemdUnits: every flag a unit passes regiond is one regiond has,
// and systemd-analyze verify (where systemd is installed) accepts the
// units, with the built regiond as their ExecStart, without a warning.
func TestSystemdUnits(t *testing.T) {
	regiond := labtest.Bin().Regiond
	help, _ := exec.Command(regiond, "--help").CombinedOutput()
	units, err := filepath.Glob("systemd/*.service")
	if err != nil || len(units) < 2 {
		t.Fatalf("units: %v %v", units, err)
	}
	dir := t.TempDir()
	var verify []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		start := regexp.MustCompile(`(?m)^ExecStart=(\S+)(.*)$`).FindSubmatch(b)
		if start == nil || string(start[1]) != "/usr/local/bin/regiond" {
			t.Errorf("%s: ExecStart is not /usr/local/bin/regiond: %q", u, start)
			continue
		}
		for _, flag := range regexp.MustCompile(`--[a-z-]+`).FindAllString(string(start[2]), -1) {
			if !bytes.Contains(help, []byte("  -"+strings.TrimPrefix(flag, "--")+" ")) && !bytes.Contains(help, []byte("  -"+strings.TrimPrefix(flag, "--")+"\n")) {
				t.Errorf("%s: regiond has no flag %s", u, flag)
			}
		}
		name := filepath.Base(u)
		if strings.HasSuffix(name, "@.service") {
			name = strings.TrimSuffix(name, "@.service") + "@eu-west.service"
		}
		if err := os.WriteFile(filepath.Join(dir, name), bytes.ReplaceAll(b, []byte("/usr/local/bin/regiond"), []byte(regiond)), 0o644); err != nil {
			t.Fatal(err)
		}
		verify = append(verify, filepath.Join(dir, name))
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the units' syntax is not verified here")
		return
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, verify...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestBinaryIsStatic: the regiond make build (and the Containerfile)
// makes loads no shared library, so it runs FROM scratch.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(labtest.Bin().Regiond)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("regiond has a program interpreter: it is dynamically linked (build with CGO_ENABLED=0)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("regiond needs shared libraries %v (%v): build with CGO_ENABLED=0", libs, err)
	}
}
