package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/binlog"
)

// system is one replication setup under test: a source server, a target
// server, and a way to see how far the target has applied.
type system interface {
	// ports are the source and target MySQL ports on 127.0.0.1.
	ports() (src, dst int)
	// sample reads the target's progress.
	sample(ctx context.Context) (sample, error)
	// caughtUp waits, at most wait, until the target has applied
	// everything the source wrote up to its GTID position pos, and
	// reports whether it has. It waits on the target (no polling), so
	// that timing a drain neither loads the system under test nor
	// rounds its end up to a poll; it may return false early (the target
	// not applying).
	caughtUp(ctx context.Context, pos string, wait time.Duration) (bool, error)
	// health fails when replication stopped and will not catch up.
	health(ctx context.Context) error
	// describe says where replication is, for timeout errors.
	describe(ctx context.Context) string
	// procs are the system's server processes by name, for CPU time;
	// target names the target MySQL's.
	procs() map[string]int
	target() string
	// pause stops the target applying (it keeps receiving what the source
	// writes); resume starts it again.
	pause(ctx context.Context) error
	resume(ctx context.Context) error
}

// stager is a system whose applier counts what it does (the platform):
// its counters are read before and after a drain (ApplyStages).
type stager interface {
	applyCounters(ctx context.Context) (map[string]float64, error)
	partitions() int
}

// sample is one look at the target.
type sample struct {
	applied      uint64   // transactions applied, by the system's own counter
	statusLag    *float64 // the system's own lag figure, if it has one
	lagTxns      *uint64
	rssKB, hwmKB uint64 // the applier process, if it is one
}

const (
	sampleEvery = 250 * time.Millisecond
	// settleWait is how long one caughtUp waits on the target; settleEvery
	// the pause after one that returned not caught up.
	settleWait  = time.Second
	settleEvery = 50 * time.Millisecond
	// minBacklog is how far behind the target must be for an interval to
	// count towards the applier's throughput while behind.
	minBacklog = 100
)

// runner runs the workload against one system.
type runner struct {
	o    Options
	sys  system
	name string
	src  *sql.DB
	dst  *sql.DB
}

// run creates and fills the tables, waits until the target has them,
// runs the load with probes and samples, measures catch-up, and compares
// checksums.
func (r *runner) run(ctx context.Context) (_ *RunResult, err error) {
	sp, dp := r.sys.ports()
	if r.src, err = openDB(sp, r.o.Threads+4); err != nil {
		return nil, err
	}
	defer r.src.Close()
	if r.dst, err = openDB(dp, 4); err != nil {
		return nil, err
	}
	defer r.dst.Close()
	t := time.Now()
	if err := createTables(ctx, r.src, r.o.Tables); err != nil {
		return nil, err
	}
	if _, err := r.settle(ctx, "tables"); err != nil {
		return nil, err
	}
	if err := prepare(ctx, r.src, r.o.Tables, r.o.Rows, r.o.Seed); err != nil {
		return nil, err
	}
	if _, err := r.settle(ctx, "prepared rows"); err != nil {
		return nil, err
	}
	r.progressf("%s: %d tables of %d rows prepared and replicated in %s", r.name, r.o.Tables, r.o.Rows, time.Since(t).Round(10*time.Millisecond))
	res, err := r.measure(ctx)
	if err != nil {
		return nil, err
	}
	if len(r.o.Sweep) > 0 {
		if res.Sweep, err = r.sweep(ctx); err != nil {
			return nil, err
		}
	}
	if r.o.Backlog == 0 {
		return res, nil
	}
	if res.Backlog, err = r.backlog(ctx); err != nil {
		return nil, err
	}
	// The target must hold the source's data after the drain too.
	if res.Checksums, res.ChecksumsEqual, err = checksums(ctx, r.src, r.dst, r.o.Tables); err != nil {
		return nil, err
	}
	return res, nil
}

// backlog measures apply capacity alone: the target stops applying, the
// source commits Backlog transactions as fast as it can, the target
// starts again, and the drain is timed (and its CPU taken) until the
// target has applied all of them.
func (r *runner) backlog(ctx context.Context) (*BacklogResult, error) {
	r.progressf("%s: backlog: the target stops applying; the source writes %d transactions", r.name, r.o.Backlog)
	if err := r.sys.pause(ctx); err != nil {
		return nil, fmt.Errorf("%s: stop the target applying: %w", r.name, err)
	}
	w := r.o.Workload
	w.Rate, w.Duration = 0, r.o.SettleTimeout
	var committed atomic.Uint64
	if _, err := loadN(ctx, r.src, w, r.o.Seed+1, &committed, uint64(r.o.Backlog)); err != nil {
		return nil, err
	}
	sg, staged := r.sys.(stager)
	var before map[string]float64
	if staged {
		var err error
		if before, err = sg.applyCounters(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	if err := r.sys.resume(ctx); err != nil {
		return nil, fmt.Errorf("%s: start the target applying again: %w", r.name, err)
	}
	cpu := startCPU(r.sys.procs())
	caught, err := r.settle(ctx, "backlog")
	if err != nil {
		return nil, err
	}
	b := &BacklogResult{Txns: r.o.Backlog, DrainSeconds: caught.Sub(start).Seconds(), CPUSeconds: cpu.stop()}
	b.TxnPerS = float64(b.Txns) / b.DrainSeconds
	for _, s := range b.CPUSeconds {
		b.CPUPerTxnMS += 1000 * s / float64(b.Txns)
	}
	b.TargetCPUPerTxnMS = 1000 * b.CPUSeconds[r.sys.target()] / float64(b.Txns)
	r.progressf("%s: backlog of %d drained in %.2fs (%.0f txn/s); CPU per transaction %.3f ms, %.3f of it the target MySQL's",
		r.name, b.Txns, b.DrainSeconds, b.TxnPerS, b.CPUPerTxnMS, b.TargetCPUPerTxnMS)
	if staged {
		after, err := sg.applyCounters(ctx)
		if err != nil {
			return nil, err
		}
		b.Apply = stagesOf(before, after, sg.partitions(), b.DrainSeconds)
		r.progressf("%s: its %d partitions waited for each other %.0f%% of their time (%.0f waits, %.2fs); %.0f runs ended where the other waited; %.0f of %d transactions folded",
			r.name, b.Apply.Partitions, 100*b.Apply.WaitShare, b.Apply.DependencyWaits, b.Apply.DependencyWaitSeconds, b.Apply.RunsCut, b.Apply.FoldedTxns, b.Txns)
	}
	return b, nil
}

// measure runs the load and everything measured during it.
func (r *runner) measure(ctx context.Context) (*RunResult, error) {
	res := &RunResult{Name: r.name, LoadAvgBefore: loadAvg()}
	base, err := r.sys.sample(ctx)
	if err != nil {
		return nil, err
	}
	var committed atomic.Uint64
	// Probe ids go on from an earlier load's (a sweep measures several).
	var first int64
	if err := r.src.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM "+probeTable).Scan(&first); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	pr := newProber(r.src, r.dst, first)
	sm := &sampler{sys: r.sys, base: base.applied, committed: &committed}

	bg, stopBG := context.WithCancel(ctx)
	probes, stopProbes := context.WithCancel(ctx)
	var wg, writer sync.WaitGroup
	defer func() { // on an early return, too: nothing outlives the run
		stopProbes()
		stopBG()
		writer.Wait()
		wg.Wait()
	}()
	wg.Add(2)
	writer.Add(1)
	go func() { defer wg.Done(); sm.run(bg) }()
	go func() { defer wg.Done(); pr.poll(bg) }()
	go func() { defer writer.Done(); pr.write(probes, func() { committed.Add(1) }) }()

	r.progressf("%s: load for %s, %d threads, rate %s", r.name, r.o.Duration, r.o.Threads, rateText(r.o.Rate))
	pids := r.sys.procs()
	pids["bench-client"] = os.Getpid() // this process: the load and the probes
	cpu := startCPU(pids)
	lr, err := load(ctx, r.src, r.o.Workload, r.o.Seed, &committed)
	stopProbes()
	writer.Wait()
	loadEnd := time.Now()
	if err != nil {
		return nil, err
	}
	res.SourceTxns = committed.Load()
	res.WorkloadTxns, res.SourceRetries = lr.txns, lr.retries
	res.LoadSeconds = lr.elapsed.Seconds()
	res.SourceTxnPerS = float64(res.SourceTxns) / lr.elapsed.Seconds()
	r.progressf("%s: source committed %d transactions and %d probes (%.0f/s); waiting for the target to catch up",
		r.name, res.WorkloadTxns, res.SourceTxns-res.WorkloadTxns, res.SourceTxnPerS)

	caught, err := r.settle(ctx, "load")
	if err != nil {
		return nil, err
	}
	res.CatchUpSeconds = caught.Sub(loadEnd).Seconds()
	res.CPUSeconds = cpu.stop()
	if err := pr.waitAll(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	stopBG()
	wg.Wait()
	lags, err := pr.result()
	if err != nil {
		return nil, err
	}
	last, err := r.sys.sample(ctx)
	if err != nil {
		return nil, err
	}
	sm.add(last)
	res.fill(sm, lags, last.applied-base.applied)
	res.LoadAvgAfter = loadAvg()
	if res.Checksums, res.ChecksumsEqual, err = checksums(ctx, r.src, r.dst, r.o.Tables); err != nil {
		return nil, err
	}
	return res, nil
}

// settle waits until the target has applied everything the source has
// written so far, and returns when it saw that.
func (r *runner) settle(ctx context.Context, what string) (time.Time, error) {
	pos, err := binlog.End(ctx, r.src, mysql.MariaDBFlavor)
	if err != nil {
		return time.Time{}, fmt.Errorf("source: %w", err)
	}
	deadline := time.Now().Add(r.o.SettleTimeout)
	lastHealth := time.Now()
	for {
		ok, err := r.sys.caughtUp(ctx, pos, settleWait)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			return time.Now(), nil
		}
		if time.Since(lastHealth) > 2*time.Second {
			if err := r.sys.health(ctx); err != nil {
				return time.Time{}, fmt.Errorf("%s: waiting for %s to replicate: %w", r.name, what, err)
			}
			lastHealth = time.Now()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: %s not replicated within %s (source at %q): %s; raise --settle-timeout if the target is just slow",
				r.name, what, r.o.SettleTimeout, pos, r.sys.describe(ctx))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(settleEvery):
		}
	}
}

func (r *runner) progressf(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, format+"\n", args...)
}

// sampler records the target's progress every sampleEvery.
type sampler struct {
	sys       system
	base      uint64
	committed *atomic.Uint64

	mu        sync.Mutex
	progress  []progress
	statusLag []float64
	lagTxns   uint64
	rssKB     uint64
	hwmKB     uint64
	errs      int
}

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		src := s.committed.Load()
		x, err := s.sys.sample(ctx)
		if err != nil {
			s.mu.Lock()
			s.errs++
			s.mu.Unlock()
			continue
		}
		s.addAt(x, src)
	}
}

func (s *sampler) add(x sample) { s.addAt(x, s.committed.Load()) }

func (s *sampler) addAt(x sample, src uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	applied := uint64(0)
	if x.applied > s.base {
		applied = x.applied - s.base
	}
	s.progress = append(s.progress, progress{at: time.Now(), source: src, applied: applied})
	if x.statusLag != nil {
		s.statusLag = append(s.statusLag, *x.statusLag)
	}
	if x.lagTxns != nil {
		s.lagTxns = max(s.lagTxns, *x.lagTxns)
	}
	s.rssKB, s.hwmKB = max(s.rssKB, x.rssKB), max(s.hwmKB, x.hwmKB)
}

// fill computes the run's figures from the samples and probe lags.
func (res *RunResult) fill(s *sampler, lags []float64, applied uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res.AppliedTxns = applied
	res.AppliedTxnPerS = float64(res.SourceTxns) / (res.LoadSeconds + res.CatchUpSeconds)
	if v, ok := busyRate(s.progress, minBacklog); ok {
		res.ApplierBusyTxnPerS = &v
	}
	res.Probes = len(lags)
	res.LagP50S, res.LagP99S, res.LagMaxS = opt(Percentile(lags, 50)), opt(Percentile(lags, 99)), opt(Percentile(lags, 100))
	if len(s.statusLag) > 0 {
		res.StatusLagP99S, res.StatusLagMaxS = opt(Percentile(s.statusLag, 99)), opt(Percentile(s.statusLag, 100))
		res.StatusLagTxnsMax = &s.lagTxns
	}
	if s.rssKB > 0 {
		res.PeakRSSMB, res.RSSHWMMB = opt(float64(s.rssKB)/1024), opt(float64(s.hwmKB)/1024)
	}
	res.SampleErrors = s.errs
}

// opt is x, or nil when it is not a number (no samples).
func opt(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	x = math.Round(x*1e4) / 1e4
	return &x
}

func rateText(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g txn/s", r)
}
