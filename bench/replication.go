package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
)

// Names of the runs.
const (
	RunPlatform = "region-platform"
	RunSingle   = "mariadb-single-thread"
	RunParallel = "mariadb-parallel-optimistic-4"
)

// AllRuns returns every run, in the order they go by default.
func AllRuns() []string { return []string{RunPlatform, RunSingle, RunParallel} }

// Workload is the sysbench-like load every run gets.
type Workload struct {
	// Tables is the number of sbtest tables, each with Rows rows.
	Tables int `json:"tables"`
	Rows   int `json:"rows"`
	// Threads are the client connections writing at once.
	Threads int `json:"threads"`
	// Duration is how long the load runs.
	Duration time.Duration `json:"-"`
	// Rate caps transactions a second over all threads; 0 means none.
	Rate float64 `json:"rate"`
	// Conflict is the conflict policy the platform run lists the sbtest
	// and probe tables with: "" leaves them to replication.default_conflict
	// (reject: every row checked), "overwrite" declares them
	// single-writer (not checked), as a deployment would.
	Conflict string `json:"conflict,omitempty"`
	// ApplyWait is the platform lab's replication.apply_wait (0: the
	// default, 50ms).
	ApplyWait time.Duration `json:"apply_wait,omitempty"`
	// PublishWait is the platform lab's replication.publish_wait (0: the
	// default, 20ms).
	PublishWait time.Duration `json:"publish_wait,omitempty"`
	// Partitions is the platform lab's topic partitions (0: the lab's
	// default, one a core; the report gives the count used).
	Partitions int `json:"partitions,omitempty"`
}

// Options configures Run.
type Options struct {
	Workload
	// Dir is a new or empty folder for the servers (kept afterwards, with
	// their logs); empty means a temporary folder, removed at the end.
	Dir string
	// Runs names the runs to do, in order (default AllRuns).
	Runs []string
	// Lab, if set, is a running lab the platform run uses (its first two
	// regions) instead of starting one; Run leaves it running.
	Lab *lab.State
	// Bin are the programs a started lab runs (default lab.FindBinaries).
	Bin lab.Binaries
	// Backlog, if not 0, adds a backlog phase after the load: the target
	// stops applying, the source commits Backlog transactions, and the
	// target's drain of them is timed (RunResult.Backlog).
	Backlog int
	// Sweep, if set, adds a fixed-rate sweep after the load: the load at
	// each of these rates (transactions a second, ascending) for
	// SweepStep (default 10 s), until one misses SweepSLO
	// (RunResult.Sweep).
	Sweep     []float64
	SweepStep time.Duration
	// SettleTimeout bounds each wait for the target to catch up
	// (default 10 minutes).
	SettleTimeout time.Duration
	// Seed makes the row and key choices repeatable (default 1).
	Seed uint64
	// Progress receives a line per step for a person to read.
	Progress io.Writer
	Logger   *slog.Logger
}

// Validate names the first option (by its flag) that makes o unusable.
func (o Options) Validate() error {
	switch {
	case o.Tables < 1 || o.Rows < 1 || o.Threads < 1:
		return fmt.Errorf("--tables, --rows and --threads must be at least 1 (got %d, %d, %d)", o.Tables, o.Rows, o.Threads)
	case o.Duration < time.Second:
		return fmt.Errorf("--duration %s: give at least 1s", o.Duration)
	case o.Backlog < 0:
		return fmt.Errorf("--backlog %d: give 0 (no backlog phase) or a number of transactions", o.Backlog)
	case o.Rate < 0:
		return fmt.Errorf("--rate %g: give 0 (no limit) or a positive rate", o.Rate)
	case !slices.IsSorted(o.Sweep) || (len(o.Sweep) > 0 && o.Sweep[0] <= 0):
		return fmt.Errorf("--sweep %v: give positive rates in ascending order, e.g. 100,200,400,800", o.Sweep)
	case o.SweepStep < 0 || (o.SweepStep > 0 && o.SweepStep < time.Second):
		return fmt.Errorf("--sweep-step %s: give at least 1s", o.SweepStep)
	case o.Conflict != "" && o.Conflict != config.ConflictOverwrite && o.Conflict != config.ConflictReject:
		return fmt.Errorf("--conflict %q: give overwrite or reject (or leave it out for the deployment default, reject)", o.Conflict)
	case o.PublishWait != 0 && (o.PublishWait < time.Millisecond || o.PublishWait > 500*time.Millisecond):
		return fmt.Errorf("--publish-wait %s: give 1ms to 500ms (or leave it out for the default, 20ms)", o.PublishWait)
	case o.Partitions < 0 || o.Partitions > 64:
		return fmt.Errorf("--partitions %d: give 1 to 64 (or leave it out for one a core, %d here)", o.Partitions, lab.DefaultPartitions())
	case o.ApplyWait != 0 && (o.ApplyWait < time.Millisecond || o.ApplyWait > 500*time.Millisecond):
		return fmt.Errorf("--apply-wait %s: give 1ms to 500ms (or leave it out for the default, 50ms)", o.ApplyWait)
	}
	for _, r := range o.Runs {
		if !slices.Contains(AllRuns(), r) {
			return fmt.Errorf("--runs %q: choose from %s", r, strings.Join(AllRuns(), ", "))
		}
	}
	return nil
}

// defaults fills in what o leaves unset.
func (o *Options) defaults() {
	if len(o.Runs) == 0 {
		o.Runs = AllRuns()
	}
	if o.SweepStep == 0 {
		o.SweepStep = 10 * time.Second
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = 10 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run runs the benchmark: the same workload against the platform and
// against MariaDB's own replication, one after the other, and reports
// each. A run whose checksums differ is reported, and Report.Check fails.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.defaults()
	dir, cleanup, err := workDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rep := &Report{Workload: o.Workload, Host: hostInfo()}
	for _, name := range o.Runs {
		var res *RunResult
		if name == RunPlatform {
			res, err = runPlatform(ctx, o, filepath.Join(dir, "lab"))
		} else {
			threads := map[string]int{RunSingle: 0, RunParallel: 4}[name]
			res, err = runNative(ctx, o, filepath.Join(dir, name), name, threads)
		}
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		o.Logger.Info("benchmark run done", "run", name, "applied_txn_per_s", res.AppliedTxnPerS, "catch_up_s", res.CatchUpSeconds)
		rep.Runs = append(rep.Runs, *res)
	}
	rep.Ratios = ratios(rep.Runs)
	return rep, nil
}

// workDir returns the folder for the servers and what to do at the end.
func workDir(dir string) (string, func(), error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "region-bench-")
		if err != nil {
			return "", nil, fmt.Errorf("benchmark folder: %w", err)
		}
		return tmp, func() { _ = os.RemoveAll(tmp) }, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	ents, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return "", nil, fmt.Errorf("benchmark folder: %w", err)
		}
	case err != nil:
		return "", nil, fmt.Errorf("benchmark folder: %w", err)
	case len(ents) > 0:
		return "", nil, fmt.Errorf("--dir %s is not empty: give a new or empty folder (the benchmark starts fresh servers there)", abs)
	}
	return abs, func() {}, nil
}

func runPlatform(ctx context.Context, o Options, dir string) (*RunResult, error) {
	st := o.Lab
	if st == nil {
		bin := o.Bin
		if bin.Regiond == "" {
			var err error
			if bin, err = lab.FindBinaries(); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(o.Progress, "%s: starting a two-region lab in %s\n", RunPlatform, dir)
		var err error
		var tables []config.Table
		if o.Conflict != "" {
			for i := 1; i <= o.Tables; i++ {
				tables = append(tables, config.Table{Name: tableName(i), Conflict: o.Conflict})
			}
			tables = append(tables, config.Table{Name: probeTable, Conflict: o.Conflict})
		}
		// Continuous verification is put off: the lab compares every
		// table every 30 s, which landed in the load or the drain of some
		// runs and not others (its own cost: bench verify).
		if st, err = lab.Up(ctx, lab.Options{Dir: dir, Regions: []string{"a", "b"}, Bin: bin, Progress: io.Discard, Tables: tables, ApplyWait: o.ApplyWait, PublishWait: o.PublishWait, Partitions: o.Partitions, VerifyEvery: time.Hour}); err != nil {
			return nil, err
		}
		defer func() {
			if err := lab.Down(context.WithoutCancel(ctx), dir, nil); err != nil {
				o.Logger.Error("stop the benchmark lab", "dir", dir, "err", err)
			}
		}()
	}
	p, err := newPlatform(st)
	if err != nil {
		return nil, err
	}
	r := &runner{o: o, sys: p, name: RunPlatform}
	res, err := r.run(ctx)
	if res != nil {
		res.Partitions = int(st.PartitionCount())
	}
	return res, err
}

func runNative(ctx context.Context, o Options, dir, name string, threads int) (*RunResult, error) {
	fmt.Fprintf(o.Progress, "%s: starting a MariaDB primary and replica in %s\n", name, dir)
	n, err := startNative(ctx, dir, threads)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := n.stop(context.WithoutCancel(ctx)); err != nil {
			o.Logger.Error("stop the benchmark's MariaDB servers", "dir", dir, "err", err)
		}
	}()
	r := &runner{o: o, sys: n, name: name}
	return r.run(ctx)
}

func hostInfo() Host {
	h := Host{CPUs: runtime.NumCPU(), GoOS: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}
