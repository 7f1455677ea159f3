package regionctl

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/regionplatform/region/lab"
)

// drillLoad is the client load a lab drill runs for its whole length:
// repayments of its own users through one gateway, whose client-side
// history is the drill's ledger. It runs in segments (lab.Load runs) so
// that it can pause while checksums are taken, and merges their
// histories. Pause and resume are called from the drill's goroutine.
type drillLoad struct {
	gateway string
	users   []int64
	rate    float64

	total  *lab.LoadResult
	cancel context.CancelFunc
	done   chan *lab.LoadResult
}

// resume starts a segment unless one is running.
func (l *drillLoad) resume() {
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan *lab.LoadResult, 1)
	done := l.done
	go func() {
		done <- lab.Load{Gateway: l.gateway, Users: l.users, Rate: l.rate, Workers: 4,
			Duration: 24 * time.Hour, Retry: 20 * time.Millisecond}.Run(ctx)
	}()
}

// pause stops the running segment, waits for its writes' answers and
// adds its history to the total.
func (l *drillLoad) pause() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	res := <-l.done
	l.cancel, l.done = nil, nil
	if l.total == nil {
		l.total = res
		return
	}
	t := l.total
	t.Acked += res.Acked
	t.Refused += res.Refused
	t.Failed += res.Failed
	t.LongestBlockMS = max(t.LongestBlockMS, res.LongestBlockMS)
	for u, n := range res.PerUser {
		t.PerUser[u] += n
	}
	for r, n := range res.ByRegion {
		t.ByRegion[r] += n
	}
	for _, e := range res.Errors {
		if len(t.Errors) < 10 {
			t.Errors = append(t.Errors, e)
		}
	}
}

// probeUntil writes for user through gateway every 50ms until a write is
// acknowledged by an app of a region ok accepts, and returns when that
// write was acknowledged. It gives up when ctx ends.
func probeUntil(ctx context.Context, gateway string, user int64, ok func(region string) bool) (time.Time, error) {
	var last string
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		code, region, err := lab.Repay(wctx, gateway, user)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusCreated && ok(region):
			return time.Now().UTC(), nil
		default:
			last = fmt.Sprintf("%d from region %q", code, region)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("user %d could not write through %s (last answer: %s): %w", user, gateway, last, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
