package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Clock is the runner's time source; tests inject a fixed one.
type Clock interface {
	Now() time.Time
	// After is time.After: wait steps wait on it.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultRestoreTimeout bounds the restoring steps run after the drill's
// context has ended.
const DefaultRestoreTimeout = 15 * time.Minute

// Runner runs drill plans against Actions and reports them. The zero
// Clock is SystemClock, the zero Logger discards, the zero RestoreTimeout
// is DefaultRestoreTimeout. A Runner runs one drill at a time.
type Runner struct {
	// Actions does the work; required.
	Actions Actions
	// Clock measures and waits.
	Clock Clock
	// Logger gets a line per step.
	Logger *slog.Logger
	// Operator is who started the drill (a user, or "scheduler").
	Operator string
	// RestoreTimeout bounds each restoring step (failback, postcheck)
	// run after ctx has been cancelled, so that service is restored.
	RestoreTimeout time.Duration
}

// ErrNoActions is returned by Run when Runner.Actions is nil.
var ErrNoActions = errors.New("drill: Runner.Actions is nil: give the runner the controller's Actions")

// run is one drill in progress.
type run struct {
	*Runner
	plan    *Plan
	rep     *Report
	faulted bool     // a switchover or failover has been attempted
	broken  bool     // a step errored or ctx ended: only restoring steps run
	aborted bool     // a precheck failed (or ctx ended) before any fault
	fails   []string // failure reasons of the run itself (abort, cancel)
}

// Run runs every step of plan in order and returns its report. It keeps
// going after a missed criterion; after a step's error (or ctx's end) it
// skips further switchovers and failovers but still runs failback,
// postcheck and wait steps, to restore service. A precheck that fails
// before any fault aborts the drill (outcome Failed). The error is
// non-nil only when the drill could not start (bad plan, no Actions);
// everything else is in the report.
func (r *Runner) Run(ctx context.Context, plan *Plan, drillID string) (*Report, error) {
	if r.Actions == nil {
		return nil, ErrNoActions
	}
	if plan == nil {
		return nil, errors.New("drill: plan is nil: load one with LoadPlan")
	}
	if err := plan.Validate(); err != nil {
		return nil, fmt.Errorf("drill plan %q: %w", plan.Name, err)
	}
	if drillID == "" {
		return nil, errors.New("drill: drillID is empty: give the run an id, e.g. monthly-2026-11")
	}
	ru := &run{Runner: r, plan: plan}
	if ru.Clock == nil {
		ru.Clock = SystemClock{}
	}
	if ru.Logger == nil {
		ru.Logger = slog.New(slog.DiscardHandler)
	}
	if ru.RestoreTimeout <= 0 {
		ru.RestoreTimeout = DefaultRestoreTimeout
	}
	ru.Logger = ru.Logger.With("drill", drillID, "plan", plan.Name)
	ru.rep = &Report{DrillID: drillID, Plan: plan.Name, Description: plan.Description, Type: planType(plan),
		Scenario: plan.Scenario, Environment: plan.Environment, Mode: plan.Target.Mode,
		Operator: ru.Operator, StartedAt: ru.Clock.Now()}
	if ru.rep.Scenario == "" {
		ru.rep.Scenario = ru.rep.Type
	}
	ru.event(ru.rep.StartedAt, fmt.Sprintf("drill %s started (plan %s, %s, mode %s)", drillID, plan.Name, plan.Environment, plan.Target.Mode), "started")
	for i, s := range plan.Steps {
		ru.rep.Steps = append(ru.rep.Steps, ru.step(ctx, i, s))
	}
	ru.ledger(ctx)
	ru.rep.EndedAt = ru.Clock.Now()
	ru.rep.DurationMS = ru.rep.EndedAt.Sub(ru.rep.StartedAt).Milliseconds()
	ru.rep.Outcome, ru.rep.Reasons = outcome(ru.rep, ru.fails)
	ru.event(ru.rep.EndedAt, "drill ended: "+ru.rep.Outcome.Title(), string(ru.rep.Outcome))
	sort.SliceStable(ru.rep.Timeline, func(i, j int) bool { return ru.rep.Timeline[i].At.Before(ru.rep.Timeline[j].At) })
	ru.Logger.Info("drill ended", "outcome", ru.rep.Outcome, "reasons", strings.Join(ru.rep.Reasons, "; "))
	return ru.rep, nil
}

func (ru *run) actor() string {
	if ru.Operator == "" {
		return "drill runner"
	}
	return "drill runner / " + ru.Operator
}

func (ru *run) event(at time.Time, action, result string) {
	ru.rep.Timeline = append(ru.rep.Timeline, Event{At: at, Action: action, Actor: ru.actor(), Result: result})
}

func (ru *run) observe(format string, args ...any) {
	ru.rep.Observations = append(ru.rep.Observations, fmt.Sprintf(format, args...))
}

// restoring kinds still run after an error, to bring service back.
func restoring(kind string) bool { return kind != KindSwitchover && kind != KindFailover }

func (ru *run) step(ctx context.Context, i int, s Step) StepReport {
	sr := StepReport{Index: i, Kind: s.Kind, Region: s.Region, To: s.To, Donor: s.Donor}
	name := stepName(sr)
	if !ru.broken && !ru.aborted && ctx.Err() != nil {
		if ru.faulted {
			ru.broken = true
			ru.observe("the drill was cancelled before step %d (%s): %v; later switchovers and failovers skipped, restoring steps run", i+1, name, context.Cause(ctx))
		} else {
			ru.aborted = true
			ru.observe("the drill was cancelled before step %d (%s), before any fault: %v; nothing was touched", i+1, name, context.Cause(ctx))
		}
		ru.fails = append(ru.fails, fmt.Sprintf("the drill was cancelled before step %d (%s)", i+1, name))
	}
	cancelledWait := s.Kind == KindWait && ctx.Err() != nil
	if ru.aborted || (ru.broken && !restoring(s.Kind)) || cancelledWait {
		sr.Status = StatusSkipped
		why := "an earlier step failed"
		switch {
		case ru.aborted:
			why = "the drill was aborted before any fault"
		case cancelledWait:
			why = "the drill was cancelled: no pacing, straight to the restoring steps"
		}
		ru.event(ru.Clock.Now(), fmt.Sprintf("step %d %s skipped: %s", i+1, name, why), StatusSkipped)
		return sr
	}
	sctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), ru.RestoreTimeout)
		defer cancel()
	}
	sr.StartedAt = ru.Clock.Now()
	ru.event(sr.StartedAt, fmt.Sprintf("step %d %s started", i+1, name), "started")
	ru.Logger.Info("drill step started", "step", i+1, "kind", s.Kind, "region", s.Region)
	if s.Kind == KindSwitchover || s.Kind == KindFailover {
		ru.faulted = true
	}
	err := ru.do(sctx, s, &sr)
	sr.EndedAt = ru.Clock.Now()
	sr.DurationMS = sr.EndedAt.Sub(sr.StartedAt).Milliseconds()
	sr.Status = stepStatus(sr.Criteria)
	if err != nil {
		sr.Status, sr.Error = StatusFail, err.Error()
		ru.observe("step %d (%s) failed: %v", i+1, name, err)
	}
	if s.Kind == KindPrecheck && sr.Status == StatusFail && !ru.faulted {
		ru.aborted = true
		ru.fails = append(ru.fails, fmt.Sprintf("the precheck (step %d) failed, so the drill was aborted before any fault", i+1))
		ru.observe("drill aborted at step %d before any fault: the precheck failed, so no region was touched", i+1)
	} else if err != nil {
		ru.broken = true
	}
	ru.event(sr.EndedAt, fmt.Sprintf("step %d %s ended", i+1, name), sr.Status)
	ru.Logger.Info("drill step ended", "step", i+1, "kind", s.Kind, "status", sr.Status, "err", err)
	return sr
}

func (ru *run) do(ctx context.Context, s Step, sr *StepReport) error {
	switch s.Kind {
	case KindPrecheck, KindPostcheck:
		res, err := ru.Actions.Precheck(ctx, PrecheckSpec{Checksums: s.Criteria.Checksums})
		if err != nil {
			return fmt.Errorf("%s: %w", s.Kind, err)
		}
		judgeCheck(s, res, sr)
	case KindSwitchover:
		res, err := ru.Actions.Switchover(ctx, s.Region, s.To)
		ru.addEvents(res.Events)
		if err != nil {
			return fmt.Errorf("switchover of region %s: %w", s.Region, err)
		}
		judgeSwitchover(s, res, sr)
	case KindFailover:
		res, err := ru.Actions.Failover(ctx, s.Region, s.To, ru.plan.Target.Mode)
		ru.addEvents(res.Events)
		ru.failoverEvents(s, res)
		if err != nil {
			return fmt.Errorf("failover of region %s: %w", s.Region, err)
		}
		judgeFailover(s, res, sr)
		if res.RPOPending {
			ru.observe("RPO count pending for step %d (failover of region %s): %s", sr.Index+1, s.Region, orDefault(res.PendingReason, "no reason given"))
		} else {
			if res.RPO > 0 {
				ru.observe("failover of region %s lost %d acknowledged transaction(s): %s", s.Region, res.RPO, orDefault(res.LostGTIDs, "GTIDs not reported"))
			}
		}
	case KindRebuild:
		res, err := ru.Actions.Rebuild(ctx, s.Region, s.Donor)
		ru.addEvents(res.Events)
		if err != nil {
			return fmt.Errorf("rebuild of region %s from %s: %w", s.Region, s.Donor, err)
		}
		judgeRebuild(s, res, sr)
	case KindFailback:
		res, err := ru.Actions.Failback(ctx, s.Region)
		ru.addEvents(res.Events)
		if err != nil {
			return fmt.Errorf("failback of region %s: %w", s.Region, err)
		}
		judgeFailback(s, res, sr)
	case KindWait:
		select {
		case <-ru.Clock.After(s.Duration):
		case <-ctx.Done():
			return fmt.Errorf("wait of %s cut short: %w", s.Duration, context.Cause(ctx))
		}
	}
	return nil
}

func (ru *run) addEvents(evs []Event) { ru.rep.Timeline = append(ru.rep.Timeline, evs...) }

func (ru *run) failoverEvents(s Step, res FailoverResult) {
	tl := &ru.rep.Timeline
	if !res.FaultAt.IsZero() {
		*tl = append(*tl, Event{At: res.FaultAt, Action: fmt.Sprintf("fault injected: region %s %s", s.Region, map[string]string{ModeKill: "killed", ModeFence: "fenced"}[ru.plan.Target.Mode]), Actor: ru.actor(), Result: "ok"})
	}
	if !res.DetectedAt.IsZero() {
		*tl = append(*tl, Event{At: res.DetectedAt, Action: fmt.Sprintf("region %s declared failed", s.Region), Actor: "controller", Result: "detected"})
	}
	if !res.RestoredAt.IsZero() {
		*tl = append(*tl, Event{At: res.RestoredAt, Action: fmt.Sprintf("service restored: every user of region %s can write", s.Region), Actor: "controller", Result: "restored"})
	}
}

func (ru *run) ledger(ctx context.Context) {
	if ru.aborted {
		ru.observe("ledger not checked: the drill was aborted before any write was at risk")
		return
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), ru.RestoreTimeout)
		defer cancel()
	}
	res, err := ru.Actions.Ledger(ctx)
	lc := &LedgerCheck{LedgerResult: res, Status: StatusPass}
	ru.rep.Ledger = lc
	if errors.Is(err, ErrNoLedger) {
		lc.Status, lc.Error = StatusWarn, err.Error()
		ru.observe("ledger not checked: %v", err)
		ru.event(ru.Clock.Now(), "ledger of acknowledged writes not checked", StatusWarn)
		return
	}
	if err != nil {
		lc.Status, lc.Error = StatusFail, err.Error()
		ru.observe("ledger check failed: %v", err)
		ru.event(ru.Clock.Now(), "ledger of acknowledged writes checked", StatusFail)
		return
	}
	lc.Unexplained = max(res.Missing-res.ExplainedByRPO, 0)
	if lc.Unexplained > 0 || res.Duplicated > 0 {
		lc.Status = StatusFail
	}
	ru.event(ru.Clock.Now(), fmt.Sprintf("ledger checked: %d acknowledged, %d missing (%d explained by RPO), %d duplicated",
		res.Acknowledged, res.Missing, res.ExplainedByRPO, res.Duplicated), lc.Status)
}

func stepName(s StepReport) string {
	switch s.Kind {
	case KindSwitchover, KindFailover:
		to := "standby"
		if s.To != "" {
			to = s.To
		}
		return fmt.Sprintf("%s %s→%s", s.Kind, s.Region, to)
	case KindFailback:
		return "failback " + s.Region
	case KindRebuild:
		return fmt.Sprintf("rebuild %s←%s", s.Region, s.Donor)
	}
	return s.Kind
}

func planType(p *Plan) string {
	var kinds []string
	seen := map[string]bool{}
	for _, s := range p.Steps {
		var t string
		switch s.Kind {
		case KindSwitchover:
			t = "planned switchover"
		case KindFailover:
			t = "forced failover"
		case KindFailback:
			t = "failback"
		}
		if t != "" && !seen[t] {
			seen[t] = true
			kinds = append(kinds, t)
		}
	}
	if len(kinds) == 0 {
		return "checks only"
	}
	return strings.Join(kinds, " + ")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
