package regionctl

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/bench"
)

// newBenchGatewayCmd is `regionctl bench gateway`.
func newBenchGatewayCmd(g *globals) *cobra.Command {
	var o bench.GatewayOptions
	cmd := &cobra.Command{
		Use:   "gateway [--requests 5000]",
		Short: "Latency the gateway adds to a request, against a plain httputil.ReverseProxy",
		Long: `gateway starts, in this process, an embedded etcd holding a routing table,
a small application on 127.0.0.1, a router with the gateway in front of the
application, and a plain httputil.ReverseProxy to the same application.
It sends the same write (POST with a user key) through each, one request
at a time, alternating which goes first, and reports p50 and p99 of each,
what the gateway adds, and the p99 overhead against the target (<= 10%).

The figures are noisy on a busy machine: compare runs made at the same
time. The command fails only if a request fails, not on the target.`,
		Example: `  bin/regionctl bench gateway
  bin/regionctl bench gateway --requests 20000 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logger = slog.New(slog.NewTextHandler(g.progress(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			rep, err := bench.GatewayOverhead(ctx, o)
			if err != nil {
				return err
			}
			return g.printReport(rep)
		},
	}
	cmd.Flags().IntVar(&o.Requests, "requests", 5000, "writes through each front")
	return cmd
}

func newBenchReadsCmd(g *globals) *cobra.Command {
	var o bench.ReadsOptions
	cmd := &cobra.Command{
		Use:   "reads [--reads 1000] [--bound 1s]",
		Short: "Latency each read consistency level adds, against a plain local read",
		Long: `reads starts a fresh two-region lab, writes as a user of region a through a's
gateway and reads that user's history through region b: straight from b's
application (the plain local read: the baseline), and through b's gateway
as eventual, bounded (--bound), session (right after a write, with its
token) and strong (forwarded to a), one of each in turn. It reports p50
and p99 per kind, what each adds to the plain local read, and the share
each served in b.

On one machine a forwarded read is a loopback hop: across regions, add the
round trip. The figures are noisy: compare kinds within one run.`,
		Example: `  make build
  bin/regionctl bench reads --json
  bin/regionctl bench reads --reads 300 --bound 500ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Reads < 1 {
				return usagef("--reads: %d: use 1 or more", o.Reads)
			}
			if o.Bound <= 0 {
				return usagef("--bound: %s: use a positive duration, e.g. 1s", o.Bound)
			}
			ctx, stop, bin, err := g.benchStart(cmd)
			if err != nil {
				return err
			}
			defer stop()
			o.Dir, o.Progress, o.Bin = g.dir, g.progress(), bin
			rep, err := bench.Reads(ctx, o)
			if err != nil {
				return err
			}
			return g.printReport(rep)
		},
	}
	cmd.Flags().IntVar(&o.Reads, "reads", 1000, "reads of each kind")
	cmd.Flags().DurationVar(&o.Bound, "bound", time.Second, "the bounded level's bound")
	return cmd
}
