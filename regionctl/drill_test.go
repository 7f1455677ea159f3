package regionctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/regionctl"
)

// TestDrillRunInTheLab runs two drill plans with `regionctl drill run`
// against a two-region lab, with the drill's own client load through a
// gateway: precheck, switchover a->b, failback a and postcheck (passed;
// against a regiond without POST /v1/failbacks the failback step fails
// saying it is not built yet), then a plan whose write-forbidden target cannot be met,
// which fails with its report written. drill history lists both.
func TestDrillRunInTheLab(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	if err := ledger.CreateSchema(context.Background(), st, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	reports := t.TempDir()
	plans := t.TempDir()
	writePlan := func(name, body string) string {
		p := filepath.Join(plans, name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// drillRun runs a plan and returns its report (printed with --json,
	// else read from its folder), the exit status and the output.
	drillRun := func(plan, id string, asJSON bool) (*drill.Report, int, string) {
		t.Helper()
		args := []string{"drill", "run", "--plan", plan, "--dir", st.Dir, "--report", filepath.Join(reports, id), "--id", id, "--operator", "test"}
		if asJSON {
			args = append(args, "--json")
		}
		out, errOut, err := run(t, args...)
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		js := []byte(out)
		if !asJSON {
			js, _ = os.ReadFile(filepath.Join(reports, id, "report.json"))
		}
		var rep drill.Report
		if err := json.Unmarshal(js, &rep); err != nil {
			t.Fatalf("drill run %s: report %q: %v\n%s\n%s", id, js, err, out, errOut)
		}
		return &rep, code, out + errOut
	}

	p1 := writePlan("move", `name: move
environment: lab
target:
  mode: fence
steps:
  - kind: precheck
    criteria:
      max_lag: 5s
      checksums: true
  - kind: switchover
    region: a
    to: b
    criteria:
      write_forbidden_max: 10s
      rpo_max: 0
  - kind: failback
    region: a
    criteria:
      rto_max: 2m   # the runner is under test here, not the lab's speed
  - kind: postcheck
    criteria:
      max_lag: 10s
      checksums: true
`)
	t0 := time.Now()
	rep, code, errOut := drillRun(p1, "move-1", true)
	t.Logf("drill move-1: %s (exit %d) in %s", rep.Outcome, code, time.Since(t0).Round(time.Millisecond))
	if len(rep.Steps) != 4 || rep.Steps[0].Status != drill.StatusPass || rep.Steps[1].Status != drill.StatusPass {
		t.Fatalf("steps: %+v\n%s", rep.Steps, errOut)
	}
	if tables := rep.Steps[0].Measures; len(rep.Steps[0].Criteria) != 2 {
		t.Errorf("precheck criteria: %+v (%+v)", rep.Steps[0].Criteria, tables)
	}
	if m := rep.Steps[1].Measures; m.WriteForbiddenMS == nil || m.RPO == nil || *m.RPO != 0 {
		t.Errorf("switchover measures: %+v", m)
	}
	if l := rep.Ledger; l == nil || l.Status != drill.StatusPass || l.Acknowledged == 0 || l.Missing != 0 || l.Duplicated != 0 {
		t.Errorf("ledger: %+v", l)
	}
	if fb := rep.Steps[2]; fb.Status != drill.StatusPass || rep.Outcome == drill.Failed {
		t.Errorf("failback: %+v, outcome %s %q", fb, rep.Outcome, rep.Reasons)
	}
	if rep.Steps[3].Status != drill.StatusPass {
		t.Errorf("postcheck: %+v", rep.Steps[3])
	}

	// Region b owns every bucket now unless the failback brought a's
	// home; either way b has buckets to switch over to a. Then a is
	// failed over to b, fenced (the forced failover is the fault).
	p2 := writePlan("tight", `name: tight
environment: lab
target:
  mode: fence
steps:
  - kind: switchover
    region: b
    to: a
    criteria:
      write_forbidden_max: 1ms
  - kind: wait      # regiond names failovers by the second: two in one second collide
    duration: 1s
  - kind: failover
    region: a
    to: b
    criteria:
      rto_max: 30s
      rpo_max: 100
  - kind: wait
    duration: 1s
  - kind: failback
    region: a
`)
	t0 = time.Now()
	rep, code, out := drillRun(p2, "tight-1", false)
	t.Logf("drill tight-1: %s (exit %d) in %s:\n%s", rep.Outcome, code, time.Since(t0).Round(time.Millisecond), out)
	if rep.Outcome != drill.Failed || code != regionctl.ExitFailed || rep.Steps[0].Status != drill.StatusFail || !contains(rep.Reasons, "write_forbidden_max") {
		t.Errorf("tight plan: outcome %s (exit %d), reasons %q, step %+v", rep.Outcome, code, rep.Reasons, rep.Steps[0])
	}
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "report: "+filepath.Join(reports, "tight-1")) {
		t.Errorf("drill run summary:\n%s", out)
	}
	if fo := rep.Steps[2]; fo.Error != "" || fo.Measures.FaultAt.IsZero() || fo.Measures.RTOMS == nil || *fo.Measures.RTOMS <= 0 || fo.Measures.DetectionMS != nil {
		t.Errorf("fenced failover: %+v", fo)
	}
	if l := rep.Ledger; l == nil || l.Status != drill.StatusPass || l.Acknowledged == 0 {
		t.Errorf("ledger after a fenced failover: %+v", l)
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(reports, "tight-1", f)); err != nil {
			t.Error(err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(reports, "tight-1", "report.html"))
	if !strings.Contains(string(html), "Failed") || !strings.Contains(string(html), "tight-1") {
		t.Errorf("report.html does not show the outcome:\n%.2000s", html)
	}

	// Kill mode: region a (which owns every bucket again after tight-1's
	// failback) has its processes killed, the controller's detection is
	// awaited, the failover forced; a is rebuilt from a copy of b (its
	// tables kept aside) while the load writes in b; the failback starts
	// a again, and the postcheck finds every table equal.
	p3 := writePlan("kill", `name: kill
environment: lab
target:
  mode: kill
steps:
  - kind: failover
    region: a
    to: b
    criteria:
      detection_max: 20s
      rto_max: 40s
      rpo_max: 100
  - kind: wait
    duration: 1s
  - kind: rebuild
    region: a
    donor: b
    criteria:
      copy_max: 2m
  - kind: failback
    region: a
    criteria:
      rto_max: 1m
  - kind: postcheck
    criteria:
      max_lag: 10s
      checksums: true
`)
	t0 = time.Now()
	rep, code, out = drillRun(p3, "kill-1", false)
	t.Logf("drill kill-1: %s (exit %d) in %s:\n%s", rep.Outcome, code, time.Since(t0).Round(time.Millisecond), out)
	if fo := rep.Steps[0]; fo.Error != "" || fo.Measures.DetectionMS == nil || fo.Measures.RTOMS == nil || *fo.Measures.RTOMS < *fo.Measures.DetectionMS {
		t.Errorf("killed failover: %+v", fo)
	}
	if rb := rep.Steps[2]; rb.Status != drill.StatusPass || rb.Measures.RowsCopied == nil || *rb.Measures.RowsCopied == 0 {
		t.Errorf("rebuild of a: %+v", rb)
	}
	if fb, pc := rep.Steps[3], rep.Steps[4]; fb.Status != drill.StatusPass || pc.Status != drill.StatusPass || len(pc.Tables) == 0 {
		t.Errorf("after the kill and the rebuild: failback %+v, postcheck %+v", fb, pc)
	}
	if l := rep.Ledger; l == nil || l.Status != drill.StatusPass || l.Acknowledged == 0 {
		t.Errorf("ledger after a kill: %+v", l)
	}
	// The RPO stays pending until the controller counts it: at best
	// passed with conditions (exit 2).
	if rep.Outcome == drill.Failed || code != regionctl.ExitStatus(nil)+map[drill.Outcome]int{drill.Passed: 0, drill.PassedWithConditions: regionctl.ExitConditions}[rep.Outcome] {
		t.Errorf("kill plan: outcome %s (exit %d), reasons %q", rep.Outcome, code, rep.Reasons)
	}

	out, _, err := run(t, "drill", "history", "--report", reports)
	if err != nil || !strings.Contains(out, "move-1") || !strings.Contains(out, "tight-1") || !strings.Contains(out, "kill-1") || strings.Index(out, "tight-1") > strings.Index(out, "move-1") {
		t.Errorf("drill history --report: %v\n%s", err, out)
	}
	// The controller recorded all three, with their outcomes.
	outcomes := map[string]string{}
	for _, d := range drillHistory(t, st.Dir).Drills {
		outcomes[d.ID] = d.Outcome
	}
	if outcomes["move-1"] == "" || outcomes["tight-1"] != "failed" || outcomes["kill-1"] == "" {
		t.Errorf("controller's drill history: %v", outcomes)
	}

	// A schedule due this minute: the controller's leader runs it (no
	// ledger outside an operator's lab run: passed with conditions) and
	// records it once, with its report in the leader's data dir.
	if s := time.Now().UTC().Second(); s > 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	now := time.Now().UTC()
	p4 := writePlan("sched", "name: sched\nenvironment: lab\ntarget:\n  mode: fence\nsteps:\n  - kind: precheck\n    criteria:\n      max_lag: 10s\n")
	if out, errOut, err := run(t, "drill", "schedule", "--plan", p4, "--cron", fmt.Sprintf("%d %d * * *", now.Minute(), now.Hour()), "--dir", st.Dir); err != nil {
		t.Fatalf("drill schedule: %v\n%s%s", err, out, errOut)
	}
	var sched []controller.DrillRecord
	if err := lab.WaitUntil(context.Background(), time.Minute, func() bool {
		sched = nil
		for _, d := range drillHistory(t, st.Dir).Drills {
			if d.Plan == "sched" && d.Outcome != controller.DrillRunning {
				sched = append(sched, d)
			}
		}
		return len(sched) > 0
	}); err != nil {
		t.Fatalf("the scheduled drill was not run and recorded within a minute: %+v", drillHistory(t, st.Dir))
	}
	v := drillHistory(t, st.Dir)
	if d := sched[0]; len(sched) != 1 || d.Outcome != controller.DrillPassedConditions || d.Actor != "scheduler" || !strings.Contains(d.Summary, "ledger") ||
		len(v.Schedules) != 1 || v.Schedules[0].LastDrill != d.ID {
		t.Errorf("scheduled drill: %+v, schedules %+v", sched, v.Schedules)
	} else if _, err := os.Stat(filepath.Join(d.Report, "report.html")); err != nil {
		t.Errorf("the scheduled drill's report: %v", err)
	}
	if out, errOut, err := run(t, "drill", "schedule", "--remove", "sched", "--dir", st.Dir); err != nil || !strings.Contains(out, "removed") {
		t.Errorf("drill schedule --remove: %v\n%s%s", err, out, errOut)
	}

	// The drills' failovers, step by step.
	out, errOut, err = run(t, "failover", "history", "--dir", st.Dir, "--json")
	var fos []controller.FailoverRecord
	if err == nil {
		err = json.Unmarshal([]byte(out), &fos)
	}
	if err != nil || len(fos) == 0 {
		t.Fatalf("failover history: %v %d\n%s%s", err, len(fos), out, errOut)
	}
	out, errOut, err = run(t, "failover", "show", fos[0].ID, "--dir", st.Dir)
	if err != nil || !strings.Contains(out, "failover "+fos[0].ID+": "+fos[0].Kind) || !strings.Contains(out, fos[0].Steps[0].Name) || !strings.Contains(out, "asked by") {
		t.Errorf("failover show: %v\n%s%s", err, out, errOut)
	}
	if _, errOut, err := run(t, "failover", "show", "fo-nope", "--dir", st.Dir); err == nil || !strings.Contains(errOut, `failover "fo-nope" is not in the controller's history`) {
		t.Errorf("failover show of an unknown id: %v %s", err, errOut)
	}
}

// drillHistory is `drill history --json` of the lab in dir.
func drillHistory(t *testing.T, dir string) api.DrillsView {
	t.Helper()
	out, errOut, err := run(t, "drill", "history", "--dir", dir, "--json")
	var v api.DrillsView
	if err == nil {
		err = json.Unmarshal([]byte(out), &v)
	}
	if err != nil {
		t.Fatalf("drill history: %v\n%s%s", err, out, errOut)
	}
	return v
}

// TestDrillRunRefuses: a plan with problems prints every one, and a
// kill-mode plan outside a lab is refused before anything is touched.
func TestDrillRunRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: Bad Name\nenvironment: moon\ntarget:\n  mode: kill\nsteps: []\n"), 0o644)
	_, errOut, err := run(t, "drill", "run", "--plan", bad)
	if err == nil || !strings.Contains(errOut, "name:") || !strings.Contains(errOut, "environment:") {
		t.Errorf("bad plan: %v\n%s", err, errOut)
	}
	kill := filepath.Join(dir, "kill.yaml")
	os.WriteFile(kill, []byte("name: k\nenvironment: lab\ntarget:\n  mode: kill\nsteps:\n  - kind: failover\n    region: a\n"), 0o644)
	_, errOut, err = run(t, "drill", "run", "--plan", kill, "--config", filepath.Join(dir, "none.yaml"))
	if exitCode(err) != regionctl.ExitUsage || !strings.Contains(errOut, "only a lab allows: pass --dir") {
		t.Errorf("kill plan without --dir: %v\n%s", err, errOut)
	}
}

func contains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
