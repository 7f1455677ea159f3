package live

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab/ledger"
)

// clientLoad is the client load a lab drill runs for its whole length:
// the ledger workload of its own users through one gateway, whose
// client-side history is the drill's ledger. It runs in segments so that
// it can pause while tables are compared; every segment records in the
// same history. Pause and resume are called from the drill's goroutine.
type clientLoad struct {
	w        ledger.Workload
	segments int
	cancel   context.CancelFunc
	done     chan struct{}
}

// resume starts a segment unless one is running.
func (l *clientLoad) resume() {
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	w, done := l.w, l.done
	w.RunID = fmt.Sprintf("%s-%d", l.w.RunID, l.segments) // request ids never repeat
	l.segments++
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
}

// pause stops the running segment and waits for its writes' answers.
func (l *clientLoad) pause() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel, l.done = nil, nil
}

// probeUntil writes for user through the client's gateway every 50ms
// until a write is acknowledged by an app of a region ok accepts, and
// returns when that write was acknowledged. It gives up when ctx ends.
func probeUntil(ctx context.Context, client ledger.Workload, user int64, ok func(region string) bool) (time.Time, error) {
	client.RunID += "-" + strconv.FormatInt(time.Now().UnixNano(), 36) // request ids stay within 64 characters
	var last string
	for n := 0; ; n++ {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		w := client.Once(wctx, user, n)
		cancel()
		switch {
		case w.Outcome == ledger.Acked && ok(w.Region):
			return w.Answered.UTC(), nil
		case w.Outcome == ledger.Acked:
			last = fmt.Sprintf("acknowledged by region %q", w.Region)
		default:
			last = fmt.Sprintf("%s: %s", w.Outcome, w.Err)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("user %d could not write through %s (last answer: %s): %w", user, strings.Join(client.Gateways, ", "), last, context.Cause(ctx))
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
	hist := a.load.w.History.Writes()
	users := a.load.w.Users
	a.load = nil
	sum := ledger.Summarize(hist)
	res.Acknowledged = int64(sum.Acked)
	a.completedRPOs(ctx)
	lost, dup, err := ledger.Verify(ctx, a.st, hist, users, nil, ledgerWait)
	if err != nil {
		return res, err
	}
	res.Missing, res.Duplicated = int64(lost.Violations), int64(dup.Violations)
	res.ExplainedByRPO = min(res.Missing, a.rpoLost)
	for _, c := range []ledger.Count{lost, dup} {
		if c.Violations > 0 {
			res.Samples = append(res.Samples, fmt.Sprintf("%s: %s", c.Invariant, c.Detail))
		}
	}
	if sum.Failed > 0 {
		res.Samples = append(res.Samples, fmt.Sprintf("%d write(s) had no answer (outcome unknown to the client), e.g. %s", sum.Failed, strings.Join(sum.Errors, "; ")))
	}
	return res, nil
}
