package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
)

// record is a failover in progress on the leader: every step goes into
// the controller's log as it happens. Its context outlives the request
// that started it, so a cancelled request still leaves a complete record.
type record struct {
	o     *Orchestrator
	rep   *api.FailoverReport
	h     controller.Header
	ctx   context.Context
	start time.Time
}

// beginFailover records the start of a failover in the controller (a
// failback names the failover it undoes). Call the returned cancel when
// the failover is over.
func (o *Orchestrator) beginFailover(ctx context.Context, start time.Time, kind string, req api.FailoverRequest, undoes, actor string) (*record, context.CancelFunc, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	id := "fo-" + strings.ToLower(start.UTC().Format("20060102T150405")) + "-" + hex.EncodeToString(suffix)
	r, cancel := o.newRecord(ctx, controller.FailoverRecord{ID: id, Kind: kind, From: req.From, To: req.To, StartedAt: start}, actor)
	if _, err := o.execute(ctx, &controller.BeginFailover{Header: r.h, ID: id, Kind: kind, From: req.From, To: req.To,
		Reason: req.Reason, AcceptRPO: req.AcceptRPO, Undoes: undoes}); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("record the failover in the controller: %w", err)
	}
	r.pause("begin")
	return r, cancel, nil
}

// newRecord is the leader's handle on failover f, which this process runs
// from now until the returned cancel: a new leader leaves it alone.
func (o *Orchestrator) newRecord(ctx context.Context, f controller.FailoverRecord, actor string) (*record, context.CancelFunc) {
	o.running.add(f.ID)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	rep := &api.FailoverReport{ID: f.ID, Kind: f.Kind, From: f.From, To: f.To}
	return &record{o: o, rep: rep, h: controller.Header{Actor: actor}, ctx: rctx, start: f.StartedAt}, func() {
		cancel()
		o.running.done(f.ID)
	}
}

// step records one step; err marks it failed.
func (r *record) step(name string, err error, detail string, rpo *controller.RPO) {
	res := "ok"
	if err != nil {
		res, detail = "failed", strings.TrimSpace(detail+": "+err.Error())
	}
	if _, xerr := r.o.execute(r.ctx, &controller.StepFailover{Header: r.h, ID: r.rep.ID, Step: name, Result: res, Detail: detail, RPO: rpo}); xerr != nil {
		r.o.log.Error("cannot record a failover step", "failover", r.rep.ID, "step", name, "err", xerr)
	}
	r.pause(name)
}

// pause holds the failover after step while the controller's pause file
// names it (controller.fault_injection, test labs only): a test kills the
// leader there to see a new one finish the failover.
func (r *record) pause(step string) {
	p := r.o.pausePath
	if p == "" {
		return
	}
	for {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != step {
			return
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// end records the outcome (rolled back when err is set) and returns the
// report with err.
func (r *record) end(err error, rpo *controller.RPO) (*api.FailoverReport, error) {
	e := &controller.EndFailover{Header: r.h, ID: r.rep.ID, Outcome: controller.FailoverDone, RPO: rpo}
	r.rep.State = controller.FailoverDone
	if err != nil {
		e.Outcome, e.Reason = controller.FailoverRolledBack, err.Error()
		r.rep.State, r.rep.Error = controller.FailoverRolledBack, err.Error()
	}
	if _, xerr := r.o.execute(r.ctx, e); xerr != nil {
		r.o.log.Error("cannot record the end of a failover", "failover", r.rep.ID, "err", xerr)
	}
	if rpo != nil {
		r.rep.RPO = *rpo
	}
	r.rep.DurationMS = time.Since(r.start).Milliseconds()
	return r.rep, err
}

// RetryLaterError is a refusal that time may lift (the region is still
// catching up, its RPO still pending): nothing was done, ask again.
type RetryLaterError struct{ Err error }

func (r RetryLaterError) Error() string { return r.Err.Error() }

// Unwrap returns the reason.
func (r RetryLaterError) Unwrap() error { return r.Err }

// idSet is a set of ids safe for concurrent use; the zero value is empty.
type idSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	s.ids[id] = true
}

func (s *idSet) done(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}
