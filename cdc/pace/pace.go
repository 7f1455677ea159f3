// Package pace is how capture's sends and an applier partition's commits
// batch what arrives: Arrivals estimates how fast messages come, so that
// a batch waits for more only while they come quickly enough to fill
// the wait, and Collect takes the batch.
package pace

import (
	"context"
	"time"
)

// Arrivals estimates a stream's arrival rate: messages over time, each
// smoothed over its batches (a mean of per-batch rates would be
// dominated by the shortest gaps). The zero value is ready; it is not
// safe for concurrent use.
type Arrivals struct {
	msgs, secs float64 // smoothed messages and seconds per batch
	prev       time.Time
	n          int // messages in the batch begun at prev
}

// Note records a batch of n messages begun at now.
func (r *Arrivals) Note(now time.Time, n int) {
	if !r.prev.IsZero() {
		r.msgs = 0.8*r.msgs + 0.2*float64(r.n)
		r.secs = 0.8*r.secs + 0.2*now.Sub(r.prev).Seconds()
	}
	r.prev, r.n = now, n
}

// Busy reports whether a batch beginning at now should wait up to wait
// for more: at the rate so far, at least more messages arrive within it,
// and the stream has not been quiet for longer than a second.
func (r *Arrivals) Busy(now time.Time, wait time.Duration, more int) bool {
	return wait > 0 && r.secs > 0 && now.Sub(r.prev) < time.Second && r.msgs/r.secs*wait.Seconds() >= float64(more)
}

// Rate is the estimated messages a second (0 before two batches).
func (r *Arrivals) Rate() float64 {
	if r.secs == 0 {
		return 0
	}
	return r.msgs / r.secs
}

// Collect returns first and the values after it that are already in ch
// or arrive within wait (0: none is waited for), up to max; a closed
// channel or an ended ctx ends the batch.
func Collect[T any](ctx context.Context, ch <-chan T, first T, max int, wait time.Duration) []T {
	batch := []T{first}
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < max {
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, v)
			continue
		default:
		}
		if timeout == nil {
			return batch
		}
		select {
		case v, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, v)
		case <-timeout:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}
