package regionctl

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		Example: `  make build
  bin/regionctl bench replication --json
  bin/regionctl bench switch --switches 4 --rate 200 --users 200`,
	}
	cmd.AddCommand(newBenchReplicationCmd(g), newBenchSwitchCmd(g), newBenchFailoverCmd(g), newBenchGatewayCmd(g), newBenchReadsCmd(g), newBenchVerifyCmd(g), newBenchIdleCmd(g), newBenchRebuildCmd(g), newBenchTransfersCmd(g))
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

The lab's topics have one partition a core of this machine (2 to 8), so b
applies on that many connections; --partitions sets another count, and
--publish-wait and --apply-wait the batching of capture's sends and of the
appliers' commits. The lab's continuous verification is put off (its cost
is bench verify's).

For each it reports the source's commit rate, the target's apply rate over
load and catch-up, the catch-up time after the load, the lag of probe rows
written every 100 ms during the load (send in the source to arrival in the
target: p50, p99, max), the peak RSS of the applying regiond, and whether
every table is the same in source and target (compared as regionctl verify
does). A difference is a failed
run: the report is printed and the command exits 1.

Then, with --backlog N (default 20000), each run measures apply capacity
alone: the target stops applying (the platform's link is paused, as
regionctl link pause does; the replica's SQL threads are stopped), the
source commits N transactions as fast as it can, the target starts again,
and the drain is timed (its end seen by a wait on the target, not a poll:
the link's GET /v1/links/SOURCE/applied, MariaDB's MASTER_GTID_WAIT), with
the CPU each server process spent on it
(cpu_per_txn_ms; target_cpu_per_txn_ms is the target MySQL's share, what
a database host of its own would spend: the ratios backlog_cpu_vs_parallel
and backlog_target_cpu_vs_parallel compare both with MariaDB's parallel
replica, below 1 when the platform spends less). For
the platform the drain's "apply" also says how its partitions spent it,
from the target regiond's metrics: the share of their time they waited
for each other (a transaction that shares a row with one of another
partition's), the runs committed early for a waiting partition, and the
transactions folded into their run's commit. A drain of a few thousand
transactions takes under a second here, too short to compare: keep N in
the tens of thousands.

With --sweep R1,R2,... each run then holds the load at each rate in turn
(--sweep-step each, lowest first, probes and catch-up measured as above)
until the probes' lag p99 reaches 250 ms, or the source cannot keep the
rate: the highest rate under that SLO, and its ratio to MariaDB's.

Servers go under --dir (a new or empty folder, kept afterwards with the
logs), or a temporary folder that is removed. Progress goes to stderr; the
result (with --json, one object) to stdout. Other work on the machine
changes the figures: the load average before and after each run is shown.`,
		Example: `  make build
  bin/regionctl bench replication --json
  bin/regionctl bench replication --rate 1000 --duration 30s
  bin/regionctl bench replication --sweep 100,200,300,400,600,800 --backlog 0 --json
  bin/regionctl bench replication --runs region-platform --conflict overwrite   # the cost of conflict checks
  bin/regionctl bench replication --duration 3s --rows 1000 --runs region-platform --dir /tmp/bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
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
			return g.printChecked(rep)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", o.Duration, "how long the load runs in each run")
	f.IntVar(&o.Tables, "tables", o.Tables, "sbtest tables")
	f.IntVar(&o.Rows, "rows", o.Rows, "rows in each table")
	f.IntVar(&o.Threads, "threads", o.Threads, "client connections writing at once")
	f.Float64Var(&o.Rate, "rate", 0, "cap on transactions a second over all threads (0: as fast as the source goes)")
	f.DurationVar(&o.ApplyWait, "apply-wait", 0, "the platform lab's replication.apply_wait (default 50ms; 1ms to compare without the appliers' group commit)")
	f.DurationVar(&o.PublishWait, "publish-wait", 0, "the platform lab's replication.publish_wait (default 20ms; 1ms to compare without batched produce)")
	f.IntVar(&o.Partitions, "partitions", 0, "the platform lab's topic partitions, which apply in parallel (default: one a core of this machine, 2 to 8)")
	f.StringVar(&o.Conflict, "conflict", "", "conflict policy of the benchmark's tables in the platform run: overwrite (single-writer, not checked) or reject; empty: the deployment default, reject")
	f.StringSliceVar(&o.Runs, "runs", bench.AllRuns(), "runs to do, comma-separated")
	f.DurationVar(&o.SettleTimeout, "settle-timeout", 10*time.Minute, "longest wait for a target to catch up")
	f.IntVar(&o.Backlog, "backlog", 20000, "transactions written while the target does not apply, then drained and timed (0: no backlog phase)")
	f.Float64SliceVar(&o.Sweep, "sweep", nil, "rates (transactions a second, ascending) to hold the load at in turn after the full-speed load, until the lag p99 is 250 ms or more: the highest rate under it")
	f.DurationVar(&o.SweepStep, "sweep-step", 10*time.Second, "how long the load runs at each --sweep rate")
	return cmd
}

// benchStart is what a benchmark that starts its own lab needs: a
// context that ends on Ctrl-C or SIGTERM (the lab is then stopped) and
// the programs the lab runs.
// printReport prints a benchmark's report: one JSON object with --json,
// else its text.
func (g *globals) printReport(rep interface{ WriteText(io.Writer) error }) error {
	if g.json {
		return g.printJSON(rep)
	}
	return rep.WriteText(g.out)
}

// printChecked prints rep, then fails the command (exit status 1, the
// report already shown) if its Check finds a failed run.
func (g *globals) printChecked(rep interface {
	WriteText(io.Writer) error
	Check() error
}) error {
	if err := g.printReport(rep); err != nil {
		return err
	}
	if err := rep.Check(); err != nil {
		return reported(err)
	}
	return nil
}

func (g *globals) benchStart(cmd *cobra.Command) (context.Context, context.CancelFunc, lab.Binaries, error) {
	bin, err := lab.FindBinaries()
	if err != nil {
		return nil, nil, bin, err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	return ctx, stop, bin, nil
}

func newBenchVerifyCmd(g *globals) *cobra.Command {
	o := bench.DefaultVerifyCostOptions()
	cmd := &cobra.Command{
		Use:   "verify [--rows 100000] [--passes 5] [--every 2m]",
		Short: "What continuous verification costs: CPU per pass, as a share of one core",
		Long: `verify starts a fresh two-region lab (its own verification put off), fills one
table with --rows rows in region a, waits until b holds them, then runs
--passes passes of exactly what regiond's controller leader runs every
replication.verify_every (every replicated table compared chunk by chunk,
paced) and measures each pass: wall time, and CPU time of the comparing
process and of both regions' MariaDB. It reports the medians and the share
of one core a pass every --every takes (the target: under 5%).`,
		Example: `  make build
  bin/regionctl bench verify --json
  bin/regionctl bench verify --rows 1000000 --every 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			ctx, stop, bin, err := g.benchStart(cmd)
			if err != nil {
				return err
			}
			defer stop()
			o.Dir, o.Progress, o.Bin = g.dir, g.progress(), bin
			rep, err := bench.RunVerifyCost(ctx, o)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(rep)
			}
			fmt.Fprintf(g.out, "a pass over %d rows in %d tables: %.2f s, %.2f CPU s (%v); every %s that is %.2f%% of one core\n",
				rep.Rows, rep.Tables, rep.PassSeconds, rep.Total, rep.CPUSeconds, o.Every, 100*rep.CoreShare)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rows, "rows", o.Rows, "rows in the compared table")
	f.IntVar(&o.Passes, "passes", o.Passes, "passes measured")
	f.DurationVar(&o.Every, "every", o.Every, "the verify_every a pass's cost is judged against")
	return cmd
}

func newBenchSwitchCmd(g *globals) *cobra.Command {
	o := bench.DefaultSwitchOptions()
	cmd := &cobra.Command{
		Use:   "switch [--switches 20] [--buckets 64] [--rate 1000]",
		Short: "Traffic switches under a steady write load: write-forbidden window and no lost or doubled write",
		Long: `switch starts a fresh two-region lab, opens --users ledgers through region a's
gateway, then writes ledger moves through the gateway at --rate a second
(a quarter of them payments between two users of the same bucket, one
transaction; clients retry a refused write every 20 ms, as told by the
503), and runs
--switches traffic switches one after the other, each moving a block of
--buckets buckets from cell a1 to b1 and the next back again.

It reports each switch's write-forbidden window (fence commit to flip
commit: p50, p99, max), its total duration, what the clients saw (writes
acknowledged, refused and retried, the longest a write waited), and, after
the regions converge, every acknowledged move missing from a region
(lost) or present twice (duplicated). A lost or duplicated write fails the
command (exit 1). Each switch's steps are in the JSON (steps_ms): the
window is mostly wait-routers (the gateways finishing writes admitted
under the old table in the moved buckets) and wait-replication (the link
applying what the old owner had committed: the lag of the moment).

--background N adds a job writing straight into region a's MySQL (not
through the gateway: sysbench's oltp_write_only on 4 tables of 10,000
rows) at N transactions a second during the switches, as batch jobs do:
the replication each switch waits for then carries it too.`,
		Example: `  make build
  bin/regionctl bench switch --json
  bin/regionctl bench switch --switches 4 --rate 200 --users 200
  bin/regionctl bench switch --switches 10 --rate 200 --background 600 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			ctx, stop, bin, err := g.benchStart(cmd)
			if err != nil {
				return err
			}
			defer stop()
			o.Dir, o.Progress, o.Bin = g.dir, g.progress(), bin
			rep, err := bench.RunSwitch(ctx, o)
			if err != nil {
				return err
			}
			if g.json {
				err = g.printJSON(rep)
			} else {
				fmt.Fprintf(g.out, "%d switches of %d buckets under %.0f writes/s (achieved %.0f): write-forbidden p50 %.0f ms, p99 %.0f ms, max %.0f ms; switch total p50 %.0f ms\n",
					len(rep.Switches), o.Buckets, o.Rate, rep.AchievedRate, rep.WindowP50MS, rep.WindowP99MS, rep.WindowMaxMS, rep.TotalP50MS)
				fmt.Fprintf(g.out, "clients: %d acknowledged, %d refused and retried, %d failed, longest wait %d ms; lost %d, duplicated %d\n",
					rep.Load.Acked, rep.Load.Refused, rep.Load.Failed, rep.Load.LongestBlockMS, rep.Lost, rep.Duplicated)
				if o.Background > 0 {
					fmt.Fprintf(g.out, "background job: %.0f transactions a second into region a's MySQL\n", rep.BackgroundRate)
				}
			}
			if err != nil {
				return err
			}
			if rep.Lost > 0 || rep.Duplicated > 0 {
				return reported(fmt.Errorf("%d writes lost, %d duplicated", rep.Lost, rep.Duplicated))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Switches, "switches", o.Switches, "switches to run")
	f.IntVar(&o.Buckets, "buckets", o.Buckets, "buckets moved by each switch")
	f.Float64Var(&o.Rate, "rate", o.Rate, "writes a second through the gateway")
	f.IntVar(&o.Users, "users", o.Users, "users writing, in pairs of the same bucket that also pay each other")
	f.Float64Var(&o.Background, "background", 0, "transactions a second a job writes straight into region a's MySQL during the switches (0: none)")
	return cmd
}

func newBenchFailoverCmd(g *globals) *cobra.Command {
	o := bench.DefaultFailoverOptions()
	cmd := &cobra.Command{
		Use:   "failover [--runs 5] [--rate 200]",
		Short: "Controller leader loss, region loss with automatic failover, RPO, failback and planned switchover",
		Long: `failover measures --runs fresh labs (regions a and b, a witness,
controller.auto_failover on), one after the other. In each:

  1. the controller's leader process is killed: the time until another node
     reports a different leader (polled every 20 ms); it is started again;
  2. --users users of cell a1 and as many of b1 write ledger moves through
     region b's gateway at --rate a second; every process of region a is
     killed at T0: detection is T0 to the start of the controller's failover
     record, RTO is T0 to the first write of an a1 user that region b
     acknowledges (tried every 20 ms); a is started again, the controller's
     RPO (pending while a is down) is read once complete; a failback to a
     runs under the load (duration, write-forbidden window); then every
     acknowledged write is checked in every region (lost, duplicated);
  3. under the load again, a planned failover of every bucket of region b to
     a: buckets moved, write-forbidden window, total duration; checked again.

It prints each run, then the median and worst of each figure against the
targets (new leader < 3 s, declared failed < 5 s, RTO < 10 s, planned
write-forbidden < 2 s, RPO reported exactly). A failed run, or a write lost
or doubled, fails the command (exit 1); a missed target does not. Each lab
is torn down after its run; with --dir the folders (logs) are kept.`,
		Example: `  make build
  bin/regionctl bench failover --runs 3
  bin/regionctl bench failover --runs 1 --rate 50 --users 20 --json
  bin/regionctl bench failover --runs 3 --raft-heartbeat 150ms --raft-election 150ms --raft-lease 100ms --raft-commit 20ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			ctx, stop, bin, err := g.benchStart(cmd)
			if err != nil {
				return err
			}
			defer stop()
			o.Dir, o.Progress, o.Bin = g.dir, g.progress(), bin
			rep, err := bench.RunFailover(ctx, o)
			if rep == nil {
				return err
			}
			if err := errors.Join(err, g.printReport(rep)); err != nil {
				return err
			}
			if err := rep.Check(); err != nil {
				return reported(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Runs, "runs", o.Runs, "fresh labs to measure, one after the other")
	f.Float64Var(&o.Rate, "rate", o.Rate, "writes a second through region b's gateway")
	f.IntVar(&o.Users, "users", o.Users, "users of each of cells a1 and b1 writing")
	f.IntVar(&o.Buckets, "buckets", o.Buckets, "the lab's buckets; each region owns half (the planned switchover moves a whole region)")
	f.DurationVar(&o.RunTimeout, "run-timeout", o.RunTimeout, "longest one run may take, lab start and tear-down included")
	f.DurationVar(&o.FailAfter, "fail-after", 0, "the labs' controller.fail_after (0: the lab's, 1s): how long a majority must have lost a region")
	f.DurationVar(&o.Raft.HeartbeatTimeout, "raft-heartbeat", 0, "the labs' controller.raft.heartbeat_timeout (0: the default, 500ms)")
	f.DurationVar(&o.Raft.ElectionTimeout, "raft-election", 0, "the labs' controller.raft.election_timeout (0: the default, 500ms)")
	f.DurationVar(&o.Raft.LeaderLeaseTimeout, "raft-lease", 0, "the labs' controller.raft.leader_lease_timeout (0: the default, 250ms)")
	f.DurationVar(&o.Raft.CommitTimeout, "raft-commit", 0, "the labs' controller.raft.commit_timeout (0: the default, 100ms)")
	return cmd
}
