package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of xs by the
// nearest-rank method: the smallest sample with at least p% of the
// samples at or below it. It returns NaN for no samples.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || p <= 0 || p > 100 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

// bucket is a token bucket: rate tokens a second, at most burst saved up.
// Time is passed in, so it is tested without sleeping.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// newBucket returns a full bucket; rate <= 0 means no limit (nil).
func newBucket(rate float64, now time.Time) *bucket {
	if rate <= 0 {
		return nil
	}
	burst := max(1, math.Floor(rate/100)) // at most 10 ms of work at once
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// reserve takes a token and says how long to wait before using it.
func (b *bucket) reserve(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// waitUntil blocks until a token is due, end passes, or ctx ends. A nil
// bucket never waits.
func (b *bucket) waitUntil(ctx context.Context, end time.Time) error {
	if b == nil {
		return ctx.Err()
	}
	now := time.Now()
	d := b.reserve(now)
	if d <= 0 {
		return ctx.Err()
	}
	d = min(d, end.Sub(now))
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// busyRate is the apply rate while the target was behind: over every
// sampling interval that started with at least minBacklog transactions
// not yet applied, applied transactions divided by time. ok is false when
// the target was never that far behind.
func busyRate(samples []progress, minBacklog uint64) (rate float64, ok bool) {
	var n uint64
	var d time.Duration
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if a.source < a.applied+minBacklog || b.applied < a.applied {
			continue
		}
		n += b.applied - a.applied
		d += b.at.Sub(a.at)
	}
	if d < 500*time.Millisecond {
		return 0, false
	}
	return float64(n) / d.Seconds(), true
}

// progress is one sample of how far source and target are, in
// transactions since the load started.
type progress struct {
	at              time.Time
	source, applied uint64
}
