// Package retry is the platform's one retry policy: exponential waits
// with jitter, for every loop that retries reaching another service.
package retry

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Jitter is how far each retry wait may stray from the exponential
// sequence: ±20%, so that nodes retrying the same service spread out.
const Jitter = 0.2

// Policy is the platform's one retry policy, for every loop that retries
// reaching another service (etcd, MySQL, Kafka) or restarts a component
// that does: the wait starts at an initial value, doubles after each
// failure up to a maximum, and is jittered by Jitter, never above the
// maximum. It is cenkalti/backoff's exponential backoff, and implements
// backoff.BackOff. A Policy serves one loop: it is not safe for
// concurrent use.
//
//	waits := retry.New(200*time.Millisecond, 5*time.Second)
//	for ctx.Err() == nil {
//		if err := try(ctx); err == nil {
//			break
//		}
//		in := waits.NextBackOff()
//		log.Warn("cannot reach etcd; retrying", "err", err, "in", in)
//		select {
//		case <-ctx.Done():
//		case <-time.After(in):
//		}
//	}
type Policy struct {
	exp backoff.ExponentialBackOff
}

var _ backoff.BackOff = (*Policy)(nil)

// New returns the policy with waits from initial to max.
func New(initial, max time.Duration) Policy {
	return Policy{exp: backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: Jitter,
		Multiplier:          2,
		MaxInterval:         max,
	}}
}

// NextBackOff returns how long to wait before the next attempt.
func (r *Policy) NextBackOff() time.Duration {
	return min(r.exp.NextBackOff(), r.exp.MaxInterval)
}

// Reset starts the waits again from the initial one, e.g. after a
// component ran well for a while.
func (r *Policy) Reset() { r.exp.Reset() }
