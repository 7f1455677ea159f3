package live

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab"
)

// clientLoad is the client load a lab drill runs for its whole length:
// repayments of its own users through one gateway, whose client-side
// history is the drill's ledger. It runs in segments (lab.Load runs) so
// that it can pause while checksums are taken, and merges their
// histories. Pause and resume are called from the drill's goroutine.
type clientLoad struct {
	gateway string
	users   []int64
	rate    float64

	total  *lab.LoadResult
	cancel context.CancelFunc
	done   chan *lab.LoadResult
}

// resume starts a segment unless one is running.
func (l *clientLoad) resume() {
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
func (l *clientLoad) pause() {
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

// Ledger stops the client load and checks its history against what
// every region holds.
func (a *actions) Ledger(ctx context.Context) (drill.LedgerResult, error) {
	var res drill.LedgerResult
	if a.load == nil {
		return res, fmt.Errorf("%w: outside a lab the drill runs no load of its own", drill.ErrNoLedger)
	}
	a.load.pause()
	t := a.load.total
	a.load = nil
	res.Acknowledged = int64(t.Acked)
	a.completedRPOs(ctx)
	lost, dup, err := t.Verify(ctx, a.st, ledgerWait, int(a.rpoLost))
	if err != nil {
		return res, err
	}
	res.Missing, res.Duplicated = int64(lost), int64(dup)
	res.ExplainedByRPO = min(res.Missing, a.rpoLost)
	if t.Failed > 0 {
		res.Samples = append(res.Samples, fmt.Sprintf("%d write(s) had no answer (outcome unknown to the client), e.g. %s", t.Failed, strings.Join(t.Errors, "; ")))
	}
	return res, nil
}
