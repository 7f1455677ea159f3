package traffic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/router"
)

// List returns the running switches and the finished ones, newest first.
func (s *Switcher) List(ctx context.Context) (active, history []Record, err error) {
	all, err := s.rec.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range all {
		if r.State == Running {
			active = append(active, r)
		} else {
			history = append(history, r)
		}
	}
	return active, history, nil
}

// orphanClaimAge is how old a bucket claim without an owner or a record
// must be before Reap drops it.
const orphanClaimAge = 30 * time.Second

// Reap aborts every running switch whose process is gone (its owner lease
// expired: the process died or lost etcd): it lifts the switch's fence
// and records it as aborted, so no bucket stays write-forbidden for want
// of an operator. It returns the switches it aborted.
//
// It reads the running switches' claims (one key), not the history, so
// a leader may call it every second.
func (s *Switcher) Reap(ctx context.Context, actor string) ([]Record, error) {
	claims, err := s.reservations(ctx)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, c := range claims {
		owner, err := s.cfg.Store.Client().Get(ctx, s.ownerKey(c.ID))
		if err != nil {
			return out, fmt.Errorf("find the process running switch %s: %w", c.ID, err)
		}
		if len(owner.Kvs) > 0 {
			continue
		}
		rec, err := s.rec.get(ctx, c.ID)
		if errors.Is(err, ErrNotFound) {
			// A switch being prepared claims its buckets before it
			// registers its owner and writes its record; a claim still
			// without either long after is one whose process died then.
			if t, ok := idTime(c.ID); ok && time.Since(t) > orphanClaimAge {
				s.log.Warn("traffic switch claim dropped: its process died before the switch started", "switch", c.ID, "buckets", c.Buckets)
				if err := s.release(ctx, c.ID); err != nil {
					return out, err
				}
			}
			continue
		}
		if err != nil {
			return out, err
		}
		if rec.State != Running {
			// Ended, but its claim was not dropped: drop it now.
			if err := s.release(ctx, rec.ID); err != nil {
				return out, err
			}
			continue
		}
		rec.AbortRequested = "aborted by " + actor + ": the process running the switch stopped before it ended"
		if _, err := s.cfg.Store.Client().Put(ctx, s.abortKey(rec.ID), rec.AbortRequested); err != nil {
			return out, fmt.Errorf("record the abort of switch %s: %w", rec.ID, err)
		}
		done, err := s.cleanUp(ctx, rec)
		if err != nil {
			return out, err
		}
		s.log.Warn("traffic switch reaped: its process was gone", "switch", rec.ID, "actor", rec.Actor, "buckets", rec.Buckets)
		out = append(out, *done)
	}
	return out, nil
}

// Get returns a switch's record.
func (s *Switcher) Get(ctx context.Context, id string) (*Record, error) { return s.rec.get(ctx, id) }

// Abort stops a running switch and serves its buckets again from their old
// owners. When the switch runs in a live process, that process stops it
// at its next check; when its process is gone, Abort lifts the fence
// itself. It returns the record once the switch has stopped (or after
// AckTimeout, still running, when its process does not react).
func (s *Switcher) Abort(ctx context.Context, id, actor, reason string) (*Record, error) {
	if reason == "" {
		return nil, errors.New("reason: missing: say why the switch is aborted")
	}
	rec, err := s.rec.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State != Running {
		return nil, fmt.Errorf("switch %s is %s already: nothing to abort", id, rec.State)
	}
	// The request has its own key: the running switch rewrites its record
	// at every step and must not overwrite the request.
	rec.AbortRequested = fmt.Sprintf("aborted by %s: %s", actor, reason)
	if _, err := s.cfg.Store.Client().Put(ctx, s.abortKey(id), rec.AbortRequested); err != nil {
		return nil, fmt.Errorf("record the abort of switch %s: %w", id, err)
	}
	s.mu.Lock()
	cancel := s.running[id]
	s.mu.Unlock()
	if cancel != nil {
		cancel() // it sees the recorded request at its next check
	}
	owner, err := s.cfg.Store.Client().Get(ctx, s.ownerKey(id))
	if err != nil {
		return nil, fmt.Errorf("find the process running switch %s: %w", id, err)
	}
	if len(owner.Kvs) == 0 {
		return s.cleanUp(ctx, rec)
	}
	deadline := time.Now().Add(s.cfg.AckTimeout + 5*time.Second)
	for time.Now().Before(deadline) {
		cur, err := s.rec.get(ctx, id)
		if err == nil && cur.State != Running {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.cfg.Poll):
		}
	}
	return s.rec.get(ctx, id)
}

func (s *Switcher) abortKey(id string) string { return s.cfg.Store.SwitchesPrefix() + "aborts/" + id }

// abortRequest returns why switch id was asked to stop ("" if it was not).
func (s *Switcher) abortRequest(ctx context.Context, id string) (string, error) {
	resp, err := s.cfg.Store.Client().Get(ctx, s.abortKey(id))
	if err != nil || len(resp.Kvs) == 0 {
		return "", err
	}
	return string(resp.Kvs[0].Value), nil
}

// cleanUp ends a switch whose process is gone: it lifts the fence and
// records the switch as aborted.
func (s *Switcher) cleanUp(ctx context.Context, rec *Record) (*Record, error) {
	t, err := s.cfg.Store.Update(ctx, router.Change{Kind: "unfence", Actor: rec.Actor, Reason: rec.AbortRequested, Switch: rec.ID}, func(t *router.Table) error {
		if !t.Holds(rec.ID) {
			return errNothingFenced
		}
		t.Unfence(rec.ID)
		return nil
	})
	now := time.Now().UTC()
	st := Step{Name: "unfence", Start: now, End: now, OK: true, Detail: "the switch's process was gone; the abort lifted the fence"}
	switch {
	case err == nil:
		rec.Epochs = append(rec.Epochs, t.Epoch)
	case errors.Is(err, errNothingFenced):
		st.Detail = "the switch's process was gone; nothing was fenced"
	default:
		return nil, fmt.Errorf("lift the fence of switch %s: %w", rec.ID, err)
	}
	rec.Steps = append(rec.Steps, st)
	if err := s.release(ctx, rec.ID); err != nil {
		return nil, err
	}
	rec.State, rec.Error, rec.Ended = Aborted, rec.AbortRequested, now
	return rec, s.rec.put(ctx, rec)
}
