package apply

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/regionplatform/region/cdc/event"
)

// Partitions apply in parallel, but a transaction that overlaps an
// earlier one of another partition (the same row, the same unique value)
// must wait for it: capture lists those in event.Txn.Deps, per partition
// the seq that partition must have applied. How far a partition has
// applied ("through") is the larger of its checkpoint's seq and, while
// its worker holds a message it has not applied yet, that message's seq
// less one: the partition's log is in seq order, so everything of it
// before that message is applied. The second half matters: a partition
// whose next message waits on this one must not be waited for in turn.
//
// Waits only point to lower seqs, so the lowest seq not yet applied never
// waits and the link always moves on (unless a partition halts: what
// depends on it waits with it, and its status says for what).

// unmet returns the first dependency in deps (by partition) that is not
// applied yet, as through reports it; ok is false when there is one. A
// partition's own entry is ignored (its log orders it).
func unmet(deps map[int32]uint64, self int32, through func(int32) uint64) (part int32, seq uint64, ok bool) {
	parts := make([]int32, 0, len(deps))
	for p := range deps {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		if p != self && through(p) < deps[p] {
			return p, deps[p], false
		}
	}
	return 0, 0, true
}

// pending reports whether m is a transaction the partition has not
// applied (its dependencies matter).
func (w *worker) pending(m *event.Message) bool {
	return m != nil && m.Kind == event.KindTxn && m.Seq > w.cp.Seq
}

// ready reports whether m may apply now.
func (w *worker) ready(ctx context.Context, m *event.Message) bool {
	if !w.pending(m) || len(m.Txn.Deps) == 0 {
		return true
	}
	_, _, ok := unmet(m.Txn.Deps, w.part, func(p int32) uint64 { return w.a.through(ctx, p) })
	return ok
}

// waitDeps holds m, the partition's next message, until the partitions it
// depends on have applied far enough, with the partition's state
// "waiting" and the reason in its status.
func (w *worker) waitDeps(ctx context.Context, m *event.Message) error {
	if !w.pending(m) {
		return nil
	}
	w.a.reached(w.part, m.Seq)
	var since time.Time
	for {
		changed := w.a.progressed()
		p, seq, ok := unmet(m.Txn.Deps, w.part, func(p int32) uint64 { return w.a.through(ctx, p) })
		if ok {
			if !since.IsZero() {
				w.a.setWaiting(w.part, "")
				w.a.m.depWaitSeconds.Observe(time.Since(since).Seconds())
			}
			return nil
		}
		if since.IsZero() {
			since = time.Now()
			w.a.m.depWaits.Inc()
		}
		w.a.setWaiting(w.part, fmt.Sprintf("transaction %s (seq %d) waits for partition %d to apply seq %d: both wrote the same row or unique value", m.Txn.GTID, m.Seq, p, seq))
		w.a.touchPart(w.part)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-time.After(200 * time.Millisecond): // a partition not set up yet: read from the target
		}
	}
}

// A run commits as one, so a partition that waits for one of its
// transactions waits for all of it. Each worker therefore publishes what
// the messages it holds depend on (need), and a partition's run ends at
// the first transaction another partition needs (cut): that partition
// waits for a short run instead of a full one, and the partitions take
// turns less. On a backlog of sysbench's random rows two partitions spent
// a third of their time waiting, two in five of the waits for a
// transaction the other had not begun to apply.

// need records the dependencies on other partitions of msgs, the
// messages partition p's worker holds (replacing what it published
// before).
func (a *Applier) need(p int32, msgs []*event.Message) {
	var needs map[int32][]uint64
	for _, m := range msgs {
		if m == nil || m.Kind != event.KindTxn {
			continue
		}
		for q, seq := range m.Txn.Deps {
			if q == p {
				continue
			}
			if needs == nil {
				needs = map[int32][]uint64{}
			}
			needs[q] = append(needs[q], seq)
		}
	}
	for _, s := range needs {
		slices.Sort(s)
	}
	a.mu.Lock()
	a.needs[p] = needs
	a.mu.Unlock()
}

// cut returns the lowest seq at or after from of partition p that another
// partition's held messages depend on (0: none): p's run should end there.
func (a *Applier) cut(p int32, from uint64) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var low uint64
	for q, needs := range a.needs {
		if q == p {
			continue
		}
		s := needs[p]
		if i, _ := slices.BinarySearch(s, from); i < len(s) && (low == 0 || s[i] < low) {
			low = s[i]
		}
	}
	return low
}

// through is how far partition p is applied: from memory once this
// session set it up, else from the target's checkpoint row.
func (a *Applier) through(ctx context.Context, p int32) uint64 {
	a.mu.Lock()
	t, held := a.thru[p]
	_, claimed := a.lastPart[p]
	a.mu.Unlock()
	if held && claimed {
		return t
	}
	cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, p)
	if err != nil || !cp.Stored() {
		return t
	}
	return max(t, cp.Seq)
}

// reached records that partition p's next message to apply has seq.
func (a *Applier) reached(p int32, seq uint64) { a.advance(p, seq-1) }

// advance records that partition p has applied through seq and wakes
// the partitions waiting for it.
func (a *Applier) advance(p int32, seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.thru[p] >= seq {
		return
	}
	a.thru[p] = seq
	close(a.progress)
	a.progress = make(chan struct{})
}

// progressed returns a channel closed when some partition advances.
func (a *Applier) progressed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.progress
}

func (a *Applier) setWaiting(p int32, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := a.parts[p]
	if ps == nil || ps.State == StateHalted {
		return
	}
	ps.Waiting = why
	ps.State = StateRunning
	if why != "" {
		ps.State = "waiting"
	}
}
