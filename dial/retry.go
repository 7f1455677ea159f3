package dial

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Jitter is how far each retry wait may stray from the exponential
// sequence: ±20%, so that nodes retrying the same service spread out.
const Jitter = 0.2

// Retry is the platform's one retry policy, for every loop that retries
// reaching another service (etcd, MySQL, Kafka) or restarts a component
// that does: the wait starts at an initial value, doubles after each
// failure up to a maximum, and is jittered by Jitter, never above the
// maximum. It is cenkalti/backoff's exponential backoff, and implements
// backoff.BackOff. A Retry serves one loop: it is not safe for
// concurrent use.
//
//	retry := dial.NewRetry(200*time.Millisecond, 5*time.Second)
//	for ctx.Err() == nil {
//		if err := try(ctx); err == nil {
//			break
//		}
//		in := retry.NextBackOff()
//		log.Warn("cannot reach etcd; retrying", "err", err, "in", in)
//		select {
//		case <-ctx.Done():
//		case <-time.After(in):
//		}
//	}
type Retry struct {
	exp backoff.ExponentialBackOff
}

var _ backoff.BackOff = (*Retry)(nil)

// NewRetry returns the policy with waits from initial to max.
func NewRetry(initial, max time.Duration) Retry {
	return Retry{exp: backoff.ExponentialBackOff{
		InitialInterval:     initial,
		RandomizationFactor: Jitter,
		Multiplier:          2,
		MaxInterval:         max,
	}}
}

// NextBackOff returns how long to wait before the next attempt.
func (r *Retry) NextBackOff() time.Duration {
	return min(r.exp.NextBackOff(), r.exp.MaxInterval)
}

// Reset starts the waits again from the initial one, e.g. after a
// component ran well for a while.
func (r *Retry) Reset() { r.exp.Reset() }
