package drill

import (
	"context"
	"errors"
	"time"
)

// fakeClock is a fixed clock the fake actions move forward; After
// advances it at once.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) tick(d time.Duration) time.Time { c.now = c.now.Add(d); return c.now }

var drillStart = time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)

// fakeActions is the narrow in-test Actions: scripted results, time moved
// on the fake clock by what each action would take. Each field may be
// changed by a test case.
type fakeActions struct {
	clock *fakeClock
	calls []string

	prechecks []PrecheckResult // one per call; the last is repeated
	checkErr  error
	switchWF  time.Duration
	switchErr error
	detect    time.Duration
	restore   time.Duration
	rpo       int64
	pending   string // non-empty: RPO pending for this reason
	failErr   error
	backRTO   time.Duration
	backErr   error
	copyTime  time.Duration
	copyErr   error
	ledger    LedgerResult
	ledgerErr error
}

var _ Actions = (*fakeActions)(nil)

func newFake() *fakeActions {
	c := &fakeClock{now: drillStart}
	ok := PrecheckResult{
		Links: []LinkLag{{From: "a", To: "b", Lag: 120 * time.Millisecond}, {From: "b", To: "a", Lag: 340 * time.Millisecond}},
		Tables: []TableChecksum{
			{Table: "lending.loans", Checksums: map[string]string{"a": "9f1c2e", "b": "9f1c2e"}, Equal: true},
			{Table: "lending.repayments", Checksums: map[string]string{"a": "4b77a0", "b": "4b77a0"}, Equal: true},
		},
	}
	return &fakeActions{clock: c, prechecks: []PrecheckResult{ok}, switchWF: 1400 * time.Millisecond,
		detect: 6200 * time.Millisecond, restore: 18400 * time.Millisecond, backRTO: 24 * time.Second, copyTime: 40 * time.Second,
		ledger: LedgerResult{Acknowledged: 48213}}
}

func (f *fakeActions) Precheck(ctx context.Context, spec PrecheckSpec) (PrecheckResult, error) {
	f.calls = append(f.calls, "precheck")
	f.clock.tick(2 * time.Second)
	if f.checkErr != nil {
		return PrecheckResult{}, f.checkErr
	}
	r := f.prechecks[0]
	if len(f.prechecks) > 1 {
		f.prechecks = f.prechecks[1:]
	}
	if !spec.Checksums {
		r.Tables = nil
	}
	return r, nil
}

func (f *fakeActions) Switchover(ctx context.Context, region, to string) (SwitchoverResult, error) {
	f.calls = append(f.calls, "switchover "+region+">"+to)
	start := f.clock.tick(200 * time.Millisecond)
	fenced := f.clock.tick(500 * time.Millisecond)
	if f.switchErr != nil {
		return SwitchoverResult{StartedAt: start}, f.switchErr
	}
	end := f.clock.tick(f.switchWF + 800*time.Millisecond)
	return SwitchoverResult{StartedAt: start, EndedAt: end, WriteForbidden: f.switchWF,
		Cells: []CellResult{{Cell: region + "1", From: region, To: to, WriteForbidden: f.switchWF},
			{Cell: region + "2", From: region, To: to, WriteForbidden: f.switchWF - 300*time.Millisecond}},
		Events: []Event{{At: fenced, Action: "buckets of cells " + region + "1, " + region + "2 fenced", Actor: "controller", Result: "ok"}},
	}, nil
}

func (f *fakeActions) Failover(ctx context.Context, region, to, mode string) (FailoverResult, error) {
	f.calls = append(f.calls, "failover "+region+" "+mode)
	fault := f.clock.tick(500 * time.Millisecond)
	if f.failErr != nil {
		f.clock.tick(5 * time.Second)
		return FailoverResult{FaultAt: fault}, f.failErr
	}
	res := FailoverResult{FaultAt: fault, DetectedAt: fault.Add(f.detect), RestoredAt: fault.Add(f.restore), RPO: f.rpo}
	if f.rpo > 0 {
		res.LostGTIDs = "2-2002-88411-88413"
	}
	if f.pending != "" {
		res.RPOPending, res.PendingReason, res.RPO = true, f.pending, 0
	}
	res.Cells = []CellResult{{Cell: region + "1", From: region, To: "a", RTO: f.restore - 2*time.Second, RPO: f.rpo},
		{Cell: region + "2", From: region, To: "a", RTO: f.restore}}
	f.clock.now = res.RestoredAt.Add(time.Second)
	return res, nil
}

func (f *fakeActions) Failback(ctx context.Context, region string) (FailbackResult, error) {
	f.calls = append(f.calls, "failback "+region)
	start := f.clock.tick(100 * time.Millisecond)
	if f.backErr != nil {
		return FailbackResult{StartedAt: start}, f.backErr
	}
	restored := f.clock.tick(f.backRTO)
	f.clock.tick(time.Second)
	return FailbackResult{StartedAt: start, RestoredAt: restored, WriteForbidden: 1100 * time.Millisecond,
		Cells: []CellResult{{Cell: region + "1", From: map[string]string{"a": "b", "b": "a"}[region], To: region, WriteForbidden: 1100 * time.Millisecond, RTO: f.backRTO}}}, nil
}

func (f *fakeActions) Rebuild(ctx context.Context, region, donor string) (RebuildResult, error) {
	f.calls = append(f.calls, "rebuild "+region+"<"+donor)
	start := f.clock.tick(100 * time.Millisecond)
	if f.copyErr != nil {
		return RebuildResult{StartedAt: start}, f.copyErr
	}
	copied := f.clock.tick(f.copyTime)
	return RebuildResult{StartedAt: start, CopiedAt: copied, Tables: 10, Rows: 48210,
		Events: []Event{{At: copied, Action: "region " + region + " rebuilt from " + donor + ": 10 tables, 48210 rows", Actor: "drill runner", Result: "ok"}}}, nil
}

func (f *fakeActions) Ledger(ctx context.Context) (LedgerResult, error) {
	f.calls = append(f.calls, "ledger")
	f.clock.tick(1500 * time.Millisecond)
	return f.ledger, f.ledgerErr
}

var errBoom = errors.New("boom")
