package regionctl

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/bench"
	"github.com/regionplatform/region/lab"
)

// newBenchCmd is `regionctl bench`.
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the platform on this machine against MariaDB's own replication",
	}
	cmd.AddCommand(newBenchReplicationCmd(g))
	return cmd
}

func newBenchReplicationCmd(g *globals) *cobra.Command {
	o := bench.Options{Workload: bench.Workload{Tables: 4, Rows: 20000, Threads: 8, Duration: 20 * time.Second}}
	cmd := &cobra.Command{
		Use:   "replication [--duration 20s] [--tables 4] [--rows 20000] [--threads 8] [--rate 0]",
		Short: "Replication throughput, lag and catch-up: the platform vs MariaDB replication",
		Long: `replication runs the same sysbench oltp_write_only-like load (per transaction:
update k, update c, delete and re-insert one random row of a random sbtest
table) three times on this machine, one run after the other:

  region-platform                 a fresh two-region lab; load on region a, applied in b by regiond
  mariadb-single-thread           a MariaDB primary and GTID replica, slave_parallel_threads=0
  mariadb-parallel-optimistic-4   the same, slave_parallel_mode=optimistic, slave_parallel_threads=4

For each it reports the source's commit rate, the target's apply rate over
load and catch-up, the catch-up time after the load, the lag of probe rows
written every 100 ms during the load (send in the source to arrival in the
target: p50, p99, max), the peak RSS of the applying regiond, and whether
CHECKSUM TABLE agrees between source and target. A difference is a failed
run: the report is printed and the command exits 1.

Servers go under --dir (a new or empty folder, kept afterwards with the
logs), or a temporary folder that is removed. Progress goes to stderr; the
result (with --json, one object) to stdout. Other work on the machine
changes the figures: the load average before and after each run is shown.`,
		Example: `  make build
  bin/regionctl bench replication --json
  bin/regionctl bench replication --rate 1000 --duration 30s
  bin/regionctl bench replication --duration 3s --rows 1000 --runs region-platform --dir /tmp/bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Dir, o.Progress = g.dir, g.progress()
			o.Logger = slog.New(slog.NewTextHandler(g.progress(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			if bin, err := lab.FindBinaries(); err == nil {
				o.Bin = bin // else the platform run says what is missing
			}
			rep, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if g.json {
				err = g.printJSON(rep)
			} else {
				err = rep.WriteText(g.out)
			}
			if err != nil {
				return err
			}
			return rep.Check()
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", o.Duration, "how long the load runs in each run")
	f.IntVar(&o.Tables, "tables", o.Tables, "sbtest tables")
	f.IntVar(&o.Rows, "rows", o.Rows, "rows in each table")
	f.IntVar(&o.Threads, "threads", o.Threads, "client connections writing at once")
	f.Float64Var(&o.Rate, "rate", 0, "cap on transactions a second over all threads (0: as fast as the source goes)")
	f.StringSliceVar(&o.Runs, "runs", bench.AllRuns(), "runs to do, comma-separated")
	f.DurationVar(&o.SettleTimeout, "settle-timeout", 10*time.Minute, "longest wait for a target to catch up")
	return cmd
}
