package traffic

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// errAborted marks a switch stopped by an abort request.
var errAborted = errors.New("aborted")

// Start checks req and its guards, records the switch and runs it in the
// background (owned by Run). Bad input or a failing guard is returned at
// once and changes nothing. The record returned is the switch's first.
func (s *Switcher) Start(ctx context.Context, req Request) (*Record, error) {
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == nil || base.Err() != nil {
		return nil, errors.New("traffic: the switcher is not running (Run was not called or has stopped)")
	}
	run, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(base)
	s.mu.Lock()
	s.running[run.rec.ID] = cancel
	s.mu.Unlock()
	first := *run.rec
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, run.rec.ID)
			s.mu.Unlock()
			cancel()
		}()
		_ = s.execute(rctx, run)
	}()
	return &first, nil
}

// Execute runs a switch to its end and returns its final record; the
// error is the reason it did not complete (the record says it too).
func (s *Switcher) Execute(ctx context.Context, req Request) (*Record, error) {
	run, err := s.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	err = s.execute(ctx, run)
	return run.rec, err
}

// run is a switch in progress.
type run struct {
	*request
	rec       *Record
	moving    []topo.Bucket // buckets that change cell, in order
	owner     clientv3.LeaseID
	stopOwner context.CancelFunc
	fenceAt   time.Time
}

// prepare checks the request and the guards and writes the first record.
func (s *Switcher) prepare(ctx context.Context, req Request) (*run, error) {
	if req.DryRun {
		return nil, errors.New("dry_run: use DryRun for a dry run")
	}
	t, _, err := s.cfg.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.check(req, t)
	if err != nil {
		return nil, err
	}
	ms := moves(t, r.ranges, r.cell.Name)
	if err := s.guard(ctx, t, sourceRegions(t, ms, r.tables, r.cell.Region), r.cell.Region); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	rec := &Record{ID: newID(now), Actor: r.Actor, Reason: r.Reason, Buckets: r.Buckets, Count: r.count, Tables: r.tables,
		To: r.cell.Name, ToRegion: r.cell.Region, Stages: r.Stages, State: Running, Started: now}
	for _, m := range ms {
		rec.From = append(rec.From, m.Cell)
	}
	for _, name := range r.tables {
		g, _ := t.Global(name)
		rec.FromHomes = append(rec.FromHomes, g.Home)
	}
	ru := &run{request: r, rec: rec}
	for _, rg := range r.ranges {
		for b := rg.First; b <= rg.Last; b++ {
			if t.Owner(b).Cell != r.cell.Name {
				ru.moving = append(ru.moving, b)
			}
		}
	}
	if err := s.reserve(ctx, rec.ID, toRanges(ru.moving), t.Buckets); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.release(context.WithoutCancel(ctx), rec.ID)
		}
	}()
	// The owner key lives as long as this process runs the switch: an
	// abort from elsewhere finds no owner and cleans up itself.
	c := s.cfg.Store.Client()
	lease, err := c.Grant(ctx, 5)
	if err != nil {
		return nil, fmt.Errorf("register switch owner: %w", err)
	}
	kctx, stop := context.WithCancel(context.Background())
	alive, err := c.KeepAlive(kctx, lease.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("keep switch owner alive: %w", err)
	}
	go func() {
		for range alive { // drain, or the client queues responses
		}
	}()
	ru.owner, ru.stopOwner = lease.ID, stop
	if _, err := c.Put(ctx, s.ownerKey(rec.ID), rec.Actor, clientv3.WithLease(lease.ID)); err != nil {
		stop()
		return nil, fmt.Errorf("register switch owner: %w", err)
	}
	if err := s.rec.put(ctx, rec); err != nil {
		stop()
		return nil, err
	}
	ok = true
	s.log.Info("traffic switch started", "switch", rec.ID, "actor", rec.Actor, "buckets", rec.Buckets, "to", rec.To, "reason", rec.Reason)
	return ru, nil
}

func (s *Switcher) ownerKey(id string) string { return s.cfg.Store.SwitchesPrefix() + "owners/" + id }

// guard refuses a switch whose replication cannot catch up quickly: the
// link from a source region to the target, or to a third region that
// must apply its last writes too (receivers), is behind, or the target's
// is down. A third region whose regiond does not answer or whose link is
// halted does not stop the switch (waitReplication says why).
func (s *Switcher) guard(ctx context.Context, t *router.Table, sources []string, to string) error {
	for _, src := range sources {
		for _, dst := range receivers(t, src) {
			l, err := s.cfg.Replication.Link(ctx, src, dst)
			down := err != nil || l.State != apply.StateRunning
			switch {
			case down && dst != to:
				continue
			case err != nil:
				return fmt.Errorf("guard: link %s->%s: %w: the switch needs it to catch up; nothing was changed", src, dst, err)
			case l.State != apply.StateRunning:
				return fmt.Errorf("guard: link %s->%s is %s (%s): fix replication first (regionctl status); nothing was changed", src, dst, l.State, l.Error)
			}
			if lag := time.Duration(l.LagSeconds * float64(time.Second)); lag > s.cfg.MaxLag {
				return fmt.Errorf("guard: link %s->%s is %s behind, above router.max_lag %s: wait for it to catch up; nothing was changed", src, dst, lag.Round(time.Millisecond), s.cfg.MaxLag)
			}
		}
	}
	return nil
}

// execute runs the stages; on any failure it unfences what it fenced.
func (s *Switcher) execute(ctx context.Context, ru *run) (err error) {
	rec := ru.rec
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("switch panicked: %v", r)
		}
		// Clean-up must outlive a cancelled ctx.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err != nil {
			// A guard or an abort stopped it: the old owners serve again,
			// unless the fence could not be lifted (Failed: act now).
			rec.State, rec.Error = Aborted, err.Error()
			if !s.unfence(cctx, ru, err) {
				rec.State = Failed
			}
		} else {
			rec.State = Done
		}
		rec.Ended = time.Now().UTC()
		if perr := s.rec.put(cctx, rec); perr != nil {
			s.log.Error("cannot record the end of a switch", "switch", rec.ID, "err", perr)
		}
		if rerr := s.release(cctx, rec.ID); rerr != nil {
			s.log.Error("cannot release a switch's buckets", "switch", rec.ID, "err", rerr)
		}
		ru.stopOwner()
		_, _ = s.cfg.Store.Client().Revoke(cctx, ru.owner)
		s.m.finished(rec)
		s.log.Info("traffic switch ended", "switch", rec.ID, "state", rec.State, "write_forbidden_ms", rec.WriteForbiddenMS, "err", rec.Error)
	}()
	if len(ru.moving) == 0 { // tables only
		return s.stage(ctx, ru, 1, nil, true)
	}
	done := 0
	for i, pct := range rec.Stages {
		n := int(math.Ceil(float64(len(ru.moving)) * float64(pct) / 100))
		if n <= done {
			continue
		}
		if err := s.stage(ctx, ru, i+1, ru.moving[done:n], n == len(ru.moving)); err != nil {
			return err
		}
		done = n
	}
	return nil
}

// stage moves one stage's buckets, and on the last stage the global
// tables: fence, wait for routers, (on the last stage, Request.Fenced),
// wait for replication, flip.
func (s *Switcher) stage(ctx context.Context, ru *run, stage int, bs []topo.Bucket, last bool) error {
	ranges := toRanges(bs)
	var tables []string
	if last {
		tables = ru.tables
	}
	var fenced *router.Table
	err := s.step(ctx, ru, stage, "fence", func(ctx context.Context) (string, error) {
		// A table write is not cut short by an abort: it lands or fails.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		defer cancel()
		t, err := s.cfg.Store.Update(ctx, s.change(ru, "fence"), func(t *router.Table) error {
			if err := t.Fence(ranges, ru.rec.ID); err != nil {
				return err
			}
			return t.FenceGlobals(tables, ru.rec.ID)
		})
		if err != nil {
			return "", err
		}
		ru.fenceAt, fenced = time.Now(), t
		ru.rec.Epochs = append(ru.rec.Epochs, t.Epoch)
		return fmt.Sprintf("epoch %d: %s write-forbidden", t.Epoch, what(bs, tables)), nil
	})
	if err != nil {
		return err
	}
	if err := s.step(ctx, ru, stage, "wait-routers", func(ctx context.Context) (string, error) {
		return s.waitRouters(ctx, ru, fenced.Epoch)
	}); err != nil {
		return err
	}
	if last && ru.Fenced != nil {
		if err := s.step(ctx, ru, stage, "fenced", ru.Fenced); err != nil {
			return err
		}
	}
	if err := s.step(ctx, ru, stage, "wait-replication", func(ctx context.Context) (string, error) {
		return s.waitReplication(ctx, ru, fenced, bs, tables)
	}); err != nil {
		return err
	}
	var flipped *router.Table
	if err := s.step(ctx, ru, stage, "flip", func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		defer cancel()
		t, err := s.cfg.Store.Update(ctx, s.change(ru, "flip"), func(t *router.Table) error {
			if !t.Holds(ru.rec.ID) {
				return fmt.Errorf("%w: the fence was lifted by someone else", errAborted)
			}
			return t.Flip(ru.rec.ID, ru.cell.Name)
		})
		if err != nil {
			return "", err
		}
		flipped = t
		s.window(ru)
		ru.rec.Epochs = append(ru.rec.Epochs, t.Epoch)
		return fmt.Sprintf("epoch %d: %s serve from cell %s, region %s", t.Epoch, what(bs, tables), ru.cell.Name, ru.cell.Region), nil
	}); err != nil {
		return err
	}
	// Best effort: how long routers took to serve the flip (not a guard).
	wctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	_ = s.step(wctx, ru, stage, "routers-flipped", func(ctx context.Context) (string, error) {
		return s.waitRouters(ctx, ru, flipped.Epoch)
	})
	return nil
}

// step runs fn as a recorded step. The switch's abort flag is checked
// before it starts.
func (s *Switcher) step(ctx context.Context, ru *run, stage int, name string, fn func(context.Context) (string, error)) error {
	if err := s.checkAbort(ctx, ru); err != nil {
		return err
	}
	st := Step{Name: name, Stage: stage, Start: time.Now().UTC()}
	ru.rec.Steps = append(ru.rec.Steps, st)
	i := len(ru.rec.Steps) - 1
	_ = s.rec.put(context.WithoutCancel(ctx), ru.rec)
	detail, err := fn(ctx)
	st.End, st.OK, st.Detail = time.Now().UTC(), err == nil, detail
	if err != nil {
		st.Detail = err.Error()
	}
	ru.rec.Steps[i] = st
	if perr := s.rec.put(context.WithoutCancel(ctx), ru.rec); perr != nil && err == nil {
		s.log.Warn("cannot record a switch step", "switch", ru.rec.ID, "step", name, "err", perr)
	}
	s.m.step(name, st.End.Sub(st.Start), err == nil)
	if err != nil {
		return fmt.Errorf("%s (stage %d): %w", name, stage, err)
	}
	return nil
}

func (s *Switcher) change(ru *run, kind string) router.Change {
	return router.Change{Kind: kind, Actor: ru.rec.Actor, Reason: ru.rec.Reason, Switch: ru.rec.ID, Time: time.Now()}
}

// window records how long the current fence has held.
func (s *Switcher) window(ru *run) {
	if ru.fenceAt.IsZero() {
		return
	}
	ms := time.Since(ru.fenceAt).Milliseconds()
	ru.rec.WriteForbiddenMS = max(ru.rec.WriteForbiddenMS, ms)
	s.m.window.Observe(float64(ms) / 1000)
	ru.fenceAt = time.Time{}
}

// checkAbort fails when the switch was asked to stop: by an abort
// recorded in etcd, or by its context ending (an abort in this process,
// or the switcher stopping).
func (s *Switcher) checkAbort(ctx context.Context, ru *run) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if why, err := s.abortRequest(rctx, ru.rec.ID); err == nil && why != "" {
		ru.rec.AbortRequested = why
		return fmt.Errorf("%w: %s", errAborted, why)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: the switcher is stopping", errAborted)
	}
	return nil
}

// writeTimeout bounds one etcd write of a switch.
const writeTimeout = 10 * time.Second

// unfence serves the buckets this switch still holds again, in their old
// cell, after a failure. It reports whether none is left fenced.
func (s *Switcher) unfence(ctx context.Context, ru *run, cause error) bool {
	t, err := s.cfg.Store.Update(ctx, s.change(ru, "unfence"), func(t *router.Table) error {
		if !t.Holds(ru.rec.ID) {
			return errNothingFenced
		}
		t.Unfence(ru.rec.ID)
		return nil
	})
	st := Step{Name: "unfence", Start: time.Now().UTC(), End: time.Now().UTC(), OK: err == nil || errors.Is(err, errNothingFenced)}
	switch {
	case err == nil:
		s.window(ru)
		ru.rec.Epochs = append(ru.rec.Epochs, t.Epoch)
		st.Detail = fmt.Sprintf("epoch %d: the old owners serve again after: %v", t.Epoch, cause)
	case errors.Is(err, errNothingFenced):
		st.Detail = "nothing was fenced"
	default:
		st.Detail = fmt.Sprintf("CANNOT UNFENCE: %v: run regionctl switch abort %s to retry", err, ru.rec.ID)
		s.log.Error("a failed switch could not lift its fence", "switch", ru.rec.ID, "err", err)
	}
	ru.rec.Steps = append(ru.rec.Steps, st)
	return st.OK
}

var errNothingFenced = errors.New("nothing fenced")

// what says what a stage moves: "12 buckets (0-11)", "global table
// lending.products", or both.
func what(bs []topo.Bucket, tables []string) string {
	var parts []string
	if len(bs) > 0 {
		parts = append(parts, fmt.Sprintf("%d buckets (%s)", len(bs), topo.FormatBuckets(bs)))
	}
	if len(tables) > 0 {
		parts = append(parts, "global tables "+strings.Join(tables, ", "))
	}
	return strings.Join(parts, " and ")
}

// toRanges turns sorted buckets into ranges.
func toRanges(bs []topo.Bucket) []topo.Range {
	var out []topo.Range
	for _, b := range bs {
		if n := len(out); n > 0 && out[n-1].Last+1 == b {
			out[n-1].Last = b
			continue
		}
		out = append(out, topo.Range{First: b, Last: b})
	}
	return out
}
