package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/traffic"
)

// SwitchOptions configures RunSwitch.
type SwitchOptions struct {
	// Dir is where the lab goes (a new or empty folder); empty: a
	// temporary folder, removed afterwards.
	Dir      string
	Bin      lab.Binaries
	Progress io.Writer
	// Rate is the steady write load through the gateway (writes a second).
	Rate float64
	// Switches alternate a block of Buckets buckets from cell a1 to b1
	// and back, while the load runs.
	Switches int
	Buckets  int
	// Users write the load (ledger.Pairs from id 1: pairs of the same
	// bucket, which also pay each other).
	Users int
	// Background, if not 0, is a job's load written straight into region
	// a's MySQL (sysbench's oltp_write_only on 4 tables of 10,000 rows,
	// not through the gateway) at this many transactions a second while
	// the switches run: the replication they wait for then carries it too.
	Background float64
}

// DefaultSwitchOptions is the benchmark: 20 switches of 64
// buckets under 1,000 writes a second.
func DefaultSwitchOptions() SwitchOptions {
	return SwitchOptions{Rate: 1000, Switches: 20, Buckets: 64, Users: 2000}
}

// SwitchReport is what RunSwitch measured.
type SwitchReport struct {
	Options  SwitchOptions `json:"options"`
	Switches []SwitchRun   `json:"switches"`
	// Write-forbidden window per switch (fence commit to flip commit), ms.
	WindowP50MS float64 `json:"window_p50_ms"`
	WindowP99MS float64 `json:"window_p99_ms"`
	WindowMaxMS float64 `json:"window_max_ms"`
	// Total switch duration (request to done), ms.
	TotalP50MS float64 `json:"total_p50_ms"`
	// Load is what the clients saw; AchievedRate their acknowledged writes a second.
	Load         *ledger.Summary `json:"load"`
	AchievedRate float64         `json:"achieved_rate"`
	// BackgroundRate is the background load's transactions a second.
	BackgroundRate float64 `json:"background_rate,omitempty"`
	// Lost and Duplicated compare the clients' history of ledger moves
	// with every region's rows after convergence (ledger.Verify).
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	// Unknown is writes whose outcome the client could not learn (errors):
	// they may or may not be in the tables.
	Unknown int `json:"unknown"`
}

// SwitchRun is one switch of the benchmark.
type SwitchRun struct {
	ID               string `json:"id"`
	Buckets          string `json:"buckets"`
	To               string `json:"to"`
	State            string `json:"state"`
	WriteForbiddenMS int64  `json:"write_forbidden_ms"`
	TotalMS          int64  `json:"total_ms"`
	Error            string `json:"error,omitempty"`
	// StepsMS is how long each of its steps took (fence, wait-routers,
	// wait-replication, flip, ...), summed over its stages: what the
	// window is made of.
	StepsMS map[string]int64 `json:"steps_ms,omitempty"`
}

// Validate names the first option (by its flag) that makes o unusable.
func (o SwitchOptions) Validate() error {
	switch {
	case o.Switches <= 0:
		return fmt.Errorf("--switches %d: give 1 or more", o.Switches)
	case o.Buckets <= 0:
		return fmt.Errorf("--buckets %d: give 1 or more (at most a quarter of the lab's buckets)", o.Buckets)
	case o.Rate <= 0:
		return fmt.Errorf("--rate %g: give the writes a second through the gateway, more than 0", o.Rate)
	case o.Users <= 0:
		return fmt.Errorf("--users %d: give 1 or more", o.Users)
	case o.Background < 0:
		return fmt.Errorf("--background %g: give 0 (no background job) or the job's transactions a second", o.Background)
	}
	return nil
}

// RunSwitch starts a two-region lab, writes a steady load through the
// gateway, runs the switches one after the other, and checks that every
// acknowledged write is in every region exactly once.
func RunSwitch(ctx context.Context, o SwitchOptions) (*SwitchReport, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	st, stop, err := twoRegions(ctx, o.Dir, "switch", o.Bin, o.Progress)
	if err != nil {
		return nil, err
	}
	defer stop()
	if o.Buckets*2 > st.Buckets/2 {
		return nil, fmt.Errorf("buckets: %d per switch is too many: cell a1 owns %d", o.Buckets, st.Buckets/2)
	}
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		return nil, err
	}
	a := st.Regions[0]
	if err := ledger.CreateSchema(ctx, st, 60*time.Second); err != nil {
		return nil, err
	}
	// Users in pairs of the same bucket, so that a quarter of the writes
	// are payments between two users in one transaction, as a lending
	// app's are; a switch moves both of a pair together.
	users, _ := ledger.Pairs(1, o.Users, st.Buckets)
	gw := a.GatewayURL()
	workers := max(16, int(o.Rate/20))
	w := ledger.Workload{Gateways: []string{gw}, Users: users, Buckets: st.Buckets, Rate: o.Rate, Workers: workers, Duration: time.Hour,
		RunID: "bench-switch", Retry: 20 * time.Millisecond, Timeout: 30 * time.Second, History: &ledger.History{},
		Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}}
	defer w.Client.CloseIdleConnections()
	fmt.Fprintf(o.Progress, "opening the ledgers of %d users through the gateway\n", len(users))
	if err := w.Open(ctx, 5*time.Minute); err != nil {
		return nil, err
	}

	var job *sql.DB
	if o.Background > 0 {
		fmt.Fprintf(o.Progress, "preparing the background job's tables in region a\n")
		if job, err = backgroundTables(ctx, st); err != nil {
			return nil, err
		}
		defer job.Close()
	}

	// The load runs until the switches are done.
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadStart := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(lctx) })
	var background atomic.Uint64
	var bgErr error
	if job != nil {
		bw := Workload{Tables: backgroundTableCount, Rows: backgroundRows, Threads: 8, Duration: time.Hour, Rate: o.Background}
		wg.Go(func() {
			if _, err := load(lctx, job, bw, 1, &background); err != nil && lctx.Err() == nil {
				bgErr = err
			}
		})
	}
	time.Sleep(2 * time.Second) // steady state before the first switch
	caller := apiAt(a.APIPort, tok)
	rep := &SwitchReport{Options: o}
	var windows, totals []float64
	inB := map[int]bool{} // blocks a switch moved to cell b1 (an aborted one moved nothing)
	for i := 0; i < o.Switches && ctx.Err() == nil; i++ {
		block := (i / 2) % ((st.Buckets / 2) / o.Buckets)
		to := "b1"
		if inB[block] {
			to = "a1"
		}
		buckets := fmt.Sprintf("%d-%d", block*o.Buckets, block*o.Buckets+o.Buckets-1)
		run, err := switchAndWait(ctx, caller, buckets, to, fmt.Sprintf("bench switch %d of %d", i+1, o.Switches))
		if err != nil {
			stopLoad()
			wg.Wait()
			return nil, err
		}
		if run.State == traffic.Done {
			inB[block] = to == "b1"
		}
		rep.Switches = append(rep.Switches, run)
		windows = append(windows, float64(run.WriteForbiddenMS))
		totals = append(totals, float64(run.TotalMS))
		fmt.Fprintf(o.Progress, "switch %2d: buckets %s -> %s %s, write-forbidden %d ms (routers %d, replication %d), total %d ms\n",
			i+1, buckets, to, run.State, run.WriteForbiddenMS, run.StepsMS["wait-routers"], run.StepsMS["wait-replication"], run.TotalMS)
		time.Sleep(500 * time.Millisecond)
	}
	stopLoad()
	wg.Wait()
	hist := w.History.Writes()
	res := ledger.Summarize(hist)
	rep.Load = res
	rep.AchievedRate = float64(res.Acked) / time.Since(loadStart).Seconds()
	if bgErr != nil {
		return nil, fmt.Errorf("background load: %w", bgErr)
	}
	if job != nil {
		rep.BackgroundRate = float64(background.Load()) / time.Since(loadStart).Seconds()
		fmt.Fprintf(o.Progress, "background job: %.0f transactions a second into region a's MySQL\n", rep.BackgroundRate)
	}
	rep.WindowP50MS, rep.WindowP99MS, rep.WindowMaxMS = Percentile(windows, 50), Percentile(windows, 99), Percentile(windows, 100)
	rep.TotalP50MS = Percentile(totals, 50)
	rep.Unknown = res.Failed
	fmt.Fprintf(o.Progress, "load: %d acknowledged, %d refused and retried, %d failed; checking every region\n", res.Acked, res.Refused, res.Failed)
	lost, dup, err := ledger.Verify(ctx, st, hist, users, nil, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	rep.Lost, rep.Duplicated = lost.Violations, dup.Violations
	return rep, nil
}

// apiAt is a client of the regiond API on port.
func apiAt(port int, token string) *client.Client {
	return &client.Client{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), Token: token}
}

// switchAndWait starts a switch through c and polls it until it is over.
func switchAndWait(ctx context.Context, c *client.Client, buckets, to, reason string) (SwitchRun, error) {
	rec, err := c.StartSwitch(ctx, traffic.Request{Buckets: buckets, To: to, Reason: reason})
	if err != nil {
		return SwitchRun{}, err
	}
	for rec.State == traffic.Running {
		select {
		case <-ctx.Done():
			return SwitchRun{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if rec, err = c.Switch(ctx, rec.ID); err != nil {
			return SwitchRun{}, err
		}
	}
	steps := map[string]int64{}
	for _, s := range rec.Steps {
		if !s.End.IsZero() {
			steps[s.Name] += s.End.Sub(s.Start).Milliseconds()
		}
	}
	return SwitchRun{ID: rec.ID, Buckets: buckets, To: to, State: rec.State, WriteForbiddenMS: rec.WriteForbiddenMS,
		TotalMS: rec.Ended.Sub(rec.Started).Milliseconds(), Error: rec.Error, StepsMS: steps}, nil
}

// The background job's tables: sysbench's, smaller than the replication
// benchmark's (the switch benchmark measures the window, not the drain).
const (
	backgroundTableCount = 4
	backgroundRows       = 10000
)

// backgroundTables creates and fills the background job's tables in
// region a's MySQL and waits until region b has them, and returns a
// connection pool to region a's MySQL for the job.
func backgroundTables(ctx context.Context, st *lab.State) (*sql.DB, error) {
	a, b := st.Regions[0], st.Regions[1]
	src, err := openDB(a.MySQLPort, 8)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			src.Close()
		}
	}()
	if err := createTables(ctx, src, backgroundTableCount); err != nil {
		return nil, err
	}
	if err := prepare(ctx, src, backgroundTableCount, backgroundRows, 1); err != nil {
		return nil, err
	}
	dst, err := openDB(b.MySQLPort, 1)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	var n int
	var cerr error
	if err := lab.WaitUntil(ctx, 2*time.Minute, func() bool {
		cerr = dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tableName(backgroundTableCount)).Scan(&n)
		return cerr == nil && n == backgroundRows
	}); err != nil {
		return nil, fmt.Errorf("region b did not receive the background job's tables: %w (rows %d of %d, %v)", err, n, backgroundRows, cerr)
	}
	ok = true
	return src, nil
}
