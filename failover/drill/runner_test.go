package drill

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func monthlyPlan(t *testing.T) *Plan {
	t.Helper()
	p, err := LoadPlan(filepath.Join("..", "..", "deploy", "drills", "monthly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var allCalls = []string{"precheck", "switchover a>b", "failback a", "failover b kill", "failback b", "precheck", "ledger"}

func TestRun(t *testing.T) {
	lagging := PrecheckResult{Links: []LinkLag{{From: "a", To: "b", Lag: 9 * time.Second}}}
	for _, tc := range []struct {
		name     string
		setup    func(f *fakeActions)
		outcome  Outcome
		calls    []string
		statuses string   // per step: p=pass f=fail w=warn ?=pending s=skipped
		reasons  []string // substrings of the reasons, in order
		observe  []string // substrings of some observation
	}{
		{name: "all pass", outcome: Passed, calls: allCalls, statuses: "ppppppp",
			reasons: []string{"every criterion met; ledger exact: 48213 acknowledged writes"}},
		{name: "precheck lag aborts before any fault",
			setup:   func(f *fakeActions) { f.prechecks = []PrecheckResult{lagging} },
			outcome: Failed, calls: []string{"precheck"}, statuses: "fssssss",
			reasons: []string{"the precheck (step 1) failed, so the drill was aborted", "step 1 (precheck): max_lag missed: target ≤ 5s, actual 9s (a→b)"},
			observe: []string{"drill aborted at step 1 before any fault", "ledger not checked"}},
		{name: "precheck error aborts",
			setup:   func(f *fakeActions) { f.checkErr = errBoom },
			outcome: Failed, calls: []string{"precheck"}, statuses: "fssssss",
			reasons: []string{"aborted before any fault", "step 1 (precheck) errored: precheck: boom"}},
		{name: "failover RTO missed still fails back and postchecks",
			setup:   func(f *fakeActions) { f.restore = 45 * time.Second },
			outcome: Failed, calls: allCalls, statuses: "ppppfpp",
			reasons: []string{"step 5 (failover b→standby): rto_max missed: target ≤ 30s, actual 45s"}},
		{name: "failover error still fails back and postchecks",
			setup:   func(f *fakeActions) { f.failErr = errBoom },
			outcome: Failed, calls: allCalls, statuses: "ppppfpp",
			reasons: []string{"step 5 (failover b→standby) errored: failover of region b: boom"},
			observe: []string{"step 5 (failover b→standby) failed: failover of region b: boom"}},
		{name: "switchover error skips the failover, runs the restoring steps",
			setup:   func(f *fakeActions) { f.switchErr = errBoom },
			outcome: Failed, calls: []string{"precheck", "switchover a>b", "failback a", "failback b", "precheck", "ledger"}, statuses: "pfppspp",
			reasons: []string{"step 2 (switchover a→b) errored", "step 5 (failover b→standby) was skipped after an earlier failure"}},
		{name: "failback error is a failure",
			setup:   func(f *fakeActions) { f.backErr = errBoom },
			outcome: Failed, calls: []string{"precheck", "switchover a>b", "failback a", "failback b", "precheck", "ledger"}, statuses: "ppfpsfp",
			reasons: []string{"step 3 (failback a) errored: failback of region a: boom", "step 5 (failover b→standby) was skipped", "step 6 (failback b) errored"}},
		{name: "postcheck lag is a condition",
			setup: func(f *fakeActions) {
				late := f.prechecks[0]
				late.Links = lagging.Links
				f.prechecks = append(f.prechecks, late)
			},
			outcome: PassedWithConditions, calls: allCalls, statuses: "ppppppw",
			reasons: []string{"step 7 (postcheck): max_lag (non-critical) missed: target ≤ 5s, actual 9s (a→b)"}},
		{name: "postcheck checksum mismatch fails",
			setup: func(f *fakeActions) {
				bad := f.prechecks[0]
				bad.Tables = []TableChecksum{{Table: "lending.loans", Equal: false}, {Table: "lending.repayments", Equal: true}}
				f.prechecks = append(f.prechecks, bad)
			},
			outcome: Failed, calls: allCalls, statuses: "ppppppf",
			reasons: []string{"checksums missed: target all tables equal, actual 1 of 2 tables differ: lending.loans"}},
		{name: "RPO pending is a condition",
			setup:   func(f *fakeActions) { f.pending = "region b's binlog unreachable" },
			outcome: PassedWithConditions, calls: allCalls, statuses: "pppp?pp",
			reasons: []string{"rpo_max is pending (pending: region b's binlog unreachable)"},
			observe: []string{"RPO count pending for step 5 (failover of region b): region b's binlog unreachable"}},
		{name: "RPO within budget, ledger explains it",
			setup: func(f *fakeActions) {
				f.rpo = 3
				f.ledger = LedgerResult{Acknowledged: 100, Missing: 3, ExplainedByRPO: 3}
			},
			outcome: Passed, calls: allCalls, statuses: "ppppppp",
			observe: []string{"failover of region b lost 3 acknowledged transaction(s): 2-2002-88411-88413"}},
		{name: "RPO over budget",
			setup:   func(f *fakeActions) { f.rpo = 101 },
			outcome: Failed, calls: allCalls, statuses: "ppppfpp",
			reasons: []string{"rpo_max missed: target ≤ 100 transactions, actual 101 transactions"}},
		{name: "ledger loss beyond the RPO",
			setup:   func(f *fakeActions) { f.ledger = LedgerResult{Acknowledged: 100, Missing: 5, ExplainedByRPO: 3} },
			outcome: Failed, calls: allCalls, statuses: "ppppppp",
			reasons: []string{"ledger: 2 acknowledged write(s) missing beyond the reported RPO, 0 duplicated"}},
		{name: "ledger duplicate",
			setup:   func(f *fakeActions) { f.ledger = LedgerResult{Acknowledged: 100, Duplicated: 1} },
			outcome: Failed, calls: allCalls, statuses: "ppppppp",
			reasons: []string{"1 duplicated"}},
		{name: "ledger unavailable",
			setup:   func(f *fakeActions) { f.ledgerErr = errBoom },
			outcome: Failed, calls: allCalls, statuses: "ppppppp",
			reasons: []string{"the ledger of acknowledged writes could not be checked: boom"}},
		{name: "no ledger source (outside a lab)",
			setup:   func(f *fakeActions) { f.ledgerErr = fmt.Errorf("%w: production", ErrNoLedger) },
			outcome: PassedWithConditions, calls: allCalls, statuses: "ppppppp",
			reasons: []string{"was not checked (no client-side ledger: production): check the application's ledger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			r := Runner{Actions: f, Clock: f.clock, Operator: "alice"}
			rep, err := r.Run(context.Background(), monthlyPlan(t), "d1")
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, rep, f, tc.outcome, tc.calls, tc.statuses, tc.reasons, tc.observe)
		})
	}
}

func checkRun(t *testing.T, rep *Report, f *fakeActions, outcome Outcome, calls []string, statuses string, reasons, observe []string) {
	t.Helper()
	if rep.Outcome != outcome {
		t.Errorf("outcome %s, want %s; reasons:\n%s", rep.Outcome, outcome, strings.Join(rep.Reasons, "\n"))
	}
	if !slices.Equal(f.calls, calls) {
		t.Errorf("calls %q, want %q", f.calls, calls)
	}
	code := map[string]string{StatusPass: "p", StatusFail: "f", StatusWarn: "w", StatusPending: "?", StatusSkipped: "s"}
	var got string
	for _, s := range rep.Steps {
		got += code[s.Status]
	}
	if got != statuses {
		t.Errorf("step statuses %s, want %s", got, statuses)
	}
	for i, w := range reasons {
		if i >= len(rep.Reasons) || !strings.Contains(rep.Reasons[i], w) {
			t.Errorf("reason %d: want %q in\n%s", i, w, strings.Join(rep.Reasons, "\n"))
		}
	}
	all := strings.Join(rep.Observations, "\n")
	for _, w := range observe {
		if !strings.Contains(all, w) {
			t.Errorf("observations: want %q in\n%s", w, all)
		}
	}
	for i := 1; i < len(rep.Timeline); i++ {
		if rep.Timeline[i].At.Before(rep.Timeline[i-1].At) {
			t.Errorf("timeline out of order at %d: %v", i, rep.Timeline[i])
		}
	}
}

// TestRunRebuild: a rebuild step between a failover and its failback is
// run and judged by its copy time.
func TestRunRebuild(t *testing.T) {
	p, err := LoadPlan(filepath.Join("..", "..", "deploy", "drills", "rebuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	calls := []string{"precheck", "failover b kill", "rebuild b<a", "failback b", "precheck", "ledger"}
	for _, tc := range []struct {
		name     string
		setup    func(f *fakeActions)
		outcome  Outcome
		statuses string
		reasons  []string
	}{
		{name: "copied in time", outcome: Passed, statuses: "ppppp"},
		{name: "copy too slow", setup: func(f *fakeActions) { f.copyTime = 11 * time.Minute }, outcome: Failed, statuses: "ppfpp",
			reasons: []string{"step 3 (rebuild b←a): copy_max missed: target ≤ 10m0s, actual 11m0s"}},
		{name: "copy failed, the failback still runs", setup: func(f *fakeActions) { f.copyErr = errBoom }, outcome: Failed, statuses: "ppfpp",
			reasons: []string{"step 3 (rebuild b←a) errored: rebuild of region b from a: boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			rep, err := (&Runner{Actions: f, Clock: f.clock, Operator: "alice"}).Run(context.Background(), p, "r1")
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, rep, f, tc.outcome, calls, tc.statuses, tc.reasons, nil)
			if m := rep.Steps[2].Measures; tc.setup == nil && (m.RowsCopied == nil || *m.RowsCopied != 48210 || m.CopyMS == nil) {
				t.Errorf("rebuild measures %+v", m)
			}
		})
	}
}

// cancelActions cancels the drill's context during the switchover and
// records whether later restoring steps got a live context.
type cancelActions struct {
	*fakeActions
	cancel  context.CancelFunc
	deadCtx []string
}

func (c *cancelActions) Switchover(ctx context.Context, region, to string) (SwitchoverResult, error) {
	c.cancel()
	return c.fakeActions.Switchover(ctx, region, to)
}

func (c *cancelActions) Failback(ctx context.Context, region string) (FailbackResult, error) {
	if ctx.Err() != nil {
		c.deadCtx = append(c.deadCtx, "failback "+region)
	}
	return c.fakeActions.Failback(ctx, region)
}

func TestRunCancelled(t *testing.T) {
	t.Run("mid-drill: fault steps skipped, service restored", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := &cancelActions{fakeActions: newFake(), cancel: cancel}
		rep, err := (&Runner{Actions: f, Clock: f.clock}).Run(ctx, monthlyPlan(t), "d1")
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, rep, f.fakeActions, Failed, []string{"precheck", "switchover a>b", "failback a", "failback b", "precheck", "ledger"},
			"pppsspp", []string{"the drill was cancelled before step 3 (failback a)"}, []string{"later switchovers and failovers skipped, restoring steps run"})
		if len(f.deadCtx) > 0 {
			t.Errorf("restoring steps got a cancelled context: %v", f.deadCtx)
		}
	})
	t.Run("before any fault: nothing touched", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := newFake()
		rep, err := (&Runner{Actions: f, Clock: f.clock}).Run(ctx, monthlyPlan(t), "d1")
		if err != nil {
			t.Fatal(err)
		}
		checkRun(t, rep, f, Failed, nil, "sssssss", []string{"the drill was cancelled before step 1 (precheck)"}, []string{"nothing was touched"})
	})
}

func TestRunRefuses(t *testing.T) {
	f := newFake()
	bad := &Plan{Name: "x", Environment: EnvProduction, Target: Target{Mode: ModeKill}, Steps: []Step{{Kind: KindWait, Duration: time.Second}}}
	for _, tc := range []struct {
		name string
		r    Runner
		plan *Plan
		id   string
		want string
	}{
		{"no actions", Runner{}, monthlyPlan(t), "d1", "Runner.Actions is nil"},
		{"nil plan", Runner{Actions: f}, nil, "d1", "plan is nil"},
		{"invalid plan", Runner{Actions: f}, bad, "d1", "target.mode: kill is not allowed in production"},
		{"no id", Runner{Actions: f}, monthlyPlan(t), "", "drillID is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.r.Run(context.Background(), tc.plan, tc.id)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if len(f.calls) > 0 {
		t.Errorf("actions called: %v", f.calls)
	}
}
