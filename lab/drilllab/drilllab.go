// Package drilllab is the lab's side of a drill (live.Lab): it kills
// and starts a lab region's processes and runs the drill's client load,
// the ledger workload whose client-side history is the drill's ledger.
// regionctl hands it to the drill runner for a lab (--dir); regiond never
// links it.
package drilllab

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/failover/drill/live"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
)

// Lab is a lab a drill runs in.
type Lab struct {
	st  *lab.State
	bin lab.Binaries
}

var _ live.Lab = (*Lab)(nil)

// New returns the lab of st; bin are its programs, needed to start a
// region again (a kill-mode drill).
func New(st *lab.State, bin lab.Binaries) *Lab { return &Lab{st: st, bin: bin} }

// Regions names the lab's regions.
func (l *Lab) Regions() []string {
	var out []string
	for _, r := range l.st.Regions {
		out = append(out, r.Name)
	}
	return out
}

// Kill kills every process of region.
func (l *Lab) Kill(ctx context.Context, region string) error {
	return lab.Kill(ctx, l.st.Dir, region, "all")
}

// Start starts every process of region again.
func (l *Lab) Start(ctx context.Context, region string) error {
	return lab.Start(ctx, lab.Options{Dir: l.st.Dir, Bin: l.bin, Progress: io.Discard}, region, "all")
}

// StartMySQL starts region's MySQL alone.
func (l *Lab) StartMySQL(ctx context.Context, region string) error {
	return lab.Start(ctx, lab.Options{Dir: l.st.Dir, Bin: l.bin, Progress: io.Discard}, region, "mysql")
}

// HomeRegion is the region the lab's starting placement gives user u.
func (l *Lab) HomeRegion(u int64) string { return l.st.Regions[l.st.HomeRegion(u)].Name }

// StartLoad opens the ledgers of users through region's gateway and
// starts the load.
func (l *Lab) StartLoad(ctx context.Context, region string, users []int64, rate float64) (live.Load, error) {
	r, ok := l.st.Region(region)
	if !ok {
		return nil, fmt.Errorf("region %q is not in the lab", region)
	}
	// Request ids name the load's start: an operator's drill id can be
	// long, and an id must fit in 64 characters.
	runID := "drill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	client := ledger.Workload{Gateways: []string{r.GatewayURL()}, RunID: runID, Retry: 20 * time.Millisecond, Timeout: 30 * time.Second}
	w := client
	w.Users, w.Rate, w.Workers, w.Duration, w.History = users, rate, 4, 24*time.Hour, &ledger.History{}
	if err := w.Open(ctx, time.Minute); err != nil {
		return nil, err
	}
	ld := &load{st: l.st, client: client, w: w}
	ld.Resume()
	return ld, nil
}

// load is the drill's client load: the ledger workload of its own users
// through one gateway. It runs in segments so that it can pause while
// tables are compared; every segment records in the same history.
type load struct {
	st *lab.State
	// client writes the probes' moves; w is the load.
	client   ledger.Workload
	w        ledger.Workload
	segments int
	cancel   context.CancelFunc
	done     chan struct{}
}

// drainWait bounds the wait for every region to hold a probe user.
const drainWait = 30 * time.Second

// Resume starts a segment unless one is running.
func (l *load) Resume() {
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

// Pause stops the running segment and waits for its writes' answers.
func (l *load) Pause() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel, l.done = nil, nil
}

// Open opens user u's ledger and waits (up to drainWait) until every
// region holds it.
func (l *load) Open(ctx context.Context, u int64) error {
	w := l.client
	w.Users = []int64{u}
	if err := w.Open(ctx, time.Minute); err != nil {
		return err
	}
	err := lab.WaitUntil(ctx, drainWait, func() bool {
		for _, r := range l.st.Regions {
			db, err := lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
			if err != nil {
				return false
			}
			var n int
			err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger_totals WHERE user_id = ?", u).Scan(&n)
			db.Close()
			if err != nil || n == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("user %d is not in every region: %w", u, err)
	}
	return nil
}

// Probe writes for user u every 50 ms until an app of a region ok
// accepts acknowledges a write.
func (l *load) Probe(ctx context.Context, u int64, ok func(region string) bool) (time.Time, error) {
	client := l.client
	client.RunID += "-" + strconv.FormatInt(time.Now().UnixNano(), 36) // request ids stay within 64 characters
	var last string
	for n := 0; ; n++ {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		w := client.Once(wctx, u, n)
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
			return time.Time{}, fmt.Errorf("user %d could not write through %s (last answer: %s): %w", u, strings.Join(client.Gateways, ", "), last, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Verify pauses the load and checks its history against every region.
func (l *load) Verify(ctx context.Context, wait time.Duration) (live.LedgerCheck, error) {
	l.Pause()
	hist := l.w.History.Writes()
	sum := ledger.Summarize(hist)
	res := live.LedgerCheck{Acknowledged: int64(sum.Acked)}
	lost, dup, err := ledger.Verify(ctx, l.st, hist, l.w.Users, nil, wait)
	if err != nil {
		return res, err
	}
	res.Missing, res.Duplicated = int64(lost.Violations), int64(dup.Violations)
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
