package bench_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/bench"
	"github.com/regionplatform/region/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// TestReplicationBenchmark runs all three runs for 3 s each on tiny tables,
// each with a backlog of 300 transactions, and checks that each measured
// something and ended with equal data. It takes 30-50 s on 2 cores.
func TestReplicationBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end benchmark takes 20-40 s: run without -short")
	}
	st := labtest.Up(t, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		Workload:      bench.Workload{Tables: 2, Rows: 500, Threads: 4, Duration: 3 * time.Second},
		Lab:           st,
		Dir:           t.TempDir(),
		SettleTimeout: time.Minute,
		Backlog:       300,
		Sweep:         []float64{20, 40},
		SweepStep:     time.Second,
		Bin:           labtest.Bin(),
		Progress:      testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	if len(rep.Runs) != len(bench.AllRuns()) {
		t.Fatalf("%d runs, want %d", len(rep.Runs), len(bench.AllRuns()))
	}
	for _, r := range rep.Runs {
		t.Logf("%s: source %.0f txn/s (%d txns), applied %.0f txn/s (target counted %d), catch-up %.2fs, lag p50 %v p99 %v, rss %v MB",
			r.Name, r.SourceTxnPerS, r.SourceTxns, r.AppliedTxnPerS, r.AppliedTxns, r.CatchUpSeconds, deref(r.LagP50S), deref(r.LagP99S), deref(r.PeakRSSMB))
		if r.WorkloadTxns == 0 || r.Probes < 10 || r.LagP99S == nil || r.AppliedTxnPerS <= 0 {
			t.Errorf("%s measured nothing: %+v", r.Name, r)
		}
		if b := r.Backlog; b == nil || b.Txns != 300 || b.TxnPerS <= 0 || len(b.CPUSeconds) == 0 || b.TargetCPUPerTxnMS <= 0 || b.CPUPerTxnMS < b.TargetCPUPerTxnMS {
			t.Errorf("%s: backlog phase %+v, want 300 transactions drained and timed, the target's CPU part of all of it", r.Name, b)
		} else {
			t.Logf("%s: backlog of %d drained in %.2fs (%.0f txn/s)", r.Name, b.Txns, b.DrainSeconds, b.TxnPerS)
		}
		// The sweep: which rates meet the SLO depends on the machine;
		// that each step was measured, in order, and stopped at the
		// first miss does not.
		if sw := r.Sweep; sw == nil || len(sw.Steps) == 0 || sw.Steps[0].Rate != 20 || sw.Steps[0].LagP99S == nil {
			t.Errorf("%s: sweep %+v, want a step at 20/s with its lag", r.Name, sw)
		} else {
			for i, s := range sw.Steps {
				if !s.Met && i != len(sw.Steps)-1 {
					t.Errorf("%s: sweep went on after missing at %.0f/s", r.Name, s.Rate)
				}
			}
			t.Logf("%s: sweep of %d steps, highest rate under the SLO %v", r.Name, len(sw.Steps), deref(sw.MaxRate))
		}
		if r.Name != bench.RunPlatform && r.AppliedTxns != r.SourceTxns {
			t.Errorf("%s: replica applied %d transactions, source committed %d", r.Name, r.AppliedTxns, r.SourceTxns)
		}
	}
	if rep.Runs[0].PeakRSSMB == nil || rep.Ratios.AppliedVsSingle == nil || rep.Ratios.AppliedVsParallel == nil || rep.Ratios.BacklogVsParallel == nil ||
		rep.Ratios.BacklogCPUVsParallel == nil || rep.Ratios.BacklogTargetCPUVsParallel == nil {
		t.Errorf("missing regiond RSS or ratios: %+v", rep)
	}
}

// TestIdleBenchmark measures an idle lab for 2 s: every process of it
// is measured, the MariaDB servers apart from the platform's processes.
func TestIdleBenchmark(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	rep, err := bench.RunIdle(context.Background(), bench.IdleOptions{Lab: st, Duration: 2 * time.Second, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logText(t, rep)
	for _, p := range []string{"etcd", "mysql-a", "mysql-b", "broker-a", "regiond-a", "regiond-b", "witness"} {
		if _, ok := rep.Cores[p]; !ok {
			t.Errorf("process %s not measured: %v", p, rep.Cores)
		}
	}
	// The sums are of the same floats in another order (the map's): a
	// rounding difference is no error.
	if rep.Platform <= 0 || rep.MariaDB < 0 || rep.Total+1e-9 < rep.Platform+rep.MariaDB || rep.Seconds < 2 {
		t.Errorf("report %+v", rep)
	}
}

// TestSwitchBenchmark runs two switches under a small gateway load and a
// background job, and checks the report's shape: every switch done with
// its steps timed, the job's rate, nothing lost or doubled.
func TestSwitchBenchmark(t *testing.T) {
	o := bench.DefaultSwitchOptions()
	o.Dir, o.Progress, o.Bin = t.TempDir(), testWriter{t}, labtest.Bin()
	o.Switches, o.Rate, o.Users, o.Background = 2, 50, 50, 20
	rep, err := bench.RunSwitch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Switches) != 2 || rep.Lost != 0 || rep.Duplicated != 0 || rep.BackgroundRate <= 0 || rep.Load.Acked == 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Switches {
		if s.State != "done" || s.StepsMS == nil || s.WriteForbiddenMS <= 0 {
			t.Errorf("switch %+v: want done, with its steps", s)
		}
		for _, step := range []string{"fence", "wait-routers", "wait-replication", "flip"} {
			if _, ok := s.StepsMS[step]; !ok {
				t.Errorf("switch %s: step %s not timed: %v", s.ID, step, s.StepsMS)
			}
		}
	}
	if rep.Switches[0].To != "b1" || rep.Switches[1].To != "a1" {
		t.Errorf("switches went to %s then %s, want b1 then a1", rep.Switches[0].To, rep.Switches[1].To)
	}
}

// TestRebuildBenchmark runs a small rebuild benchmark and checks its shape
// (each copy is checked against the donor inside RunRebuild), not its
// figures.
func TestRebuildBenchmark(t *testing.T) {
	if _, err := bench.RunRebuild(context.Background(), bench.RebuildOptions{Rows: 0, Runs: 1, Batch: 1}); err == nil {
		t.Error("--rows 0 accepted")
	}
	rep, err := bench.RunRebuild(context.Background(), bench.RebuildOptions{Rows: 3000, Runs: 2, Batch: 250, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logText(t, rep)
	if rep.Rows != 6000 || len(rep.CopySeconds) != 2 || len(rep.DumpSeconds) != 2 || rep.CopyVsDump <= 0 || rep.Bytes <= 0 {
		t.Errorf("report %+v", rep)
	}
}

// logText logs a report as the command prints it.
func logText(t *testing.T, rep interface{ WriteText(io.Writer) error }) {
	t.Helper()
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Log(text.String())
}

func deref(p *float64) any {
	if p == nil {
		return "-"
	}
	return *p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestTransfersBenchmark runs both transfer runs for 2 s each on a few
// users and checks that each committed transfers in both regions, and
// that the regions converged with every user's money conserved.
func TestTransfersBenchmark(t *testing.T) {
	o := bench.DefaultTransferOptions()
	o.Duration, o.Threads, o.Users, o.Settle = 2*time.Second, 2, 20, time.Minute
	o.Dir, o.Bin, o.Progress = t.TempDir(), labtest.Bin(), testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := bench.RunTransfers(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	logText(t, rep)
	if len(rep.Runs) != 2 || rep.Ratio == nil {
		t.Fatalf("report %+v", rep)
	}
	for _, run := range rep.Runs {
		for _, r := range []string{"a", "b"} {
			if run.PerRegion[r] == 0 {
				t.Errorf("%s: no transfer committed in %s: %+v", run.Name, r, run)
			}
		}
		if !run.Equal || !run.Conserved || len(run.CPU) == 0 {
			t.Errorf("%s: equal %v, conserved %v, cpu %v", run.Name, run.Equal, run.Conserved, run.CPU)
		}
	}
}
