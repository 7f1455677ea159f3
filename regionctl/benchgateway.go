package regionctl

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

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
			if g.json {
				return g.printJSON(rep)
			}
			return rep.WriteText(g.out)
		},
	}
	cmd.Flags().IntVar(&o.Requests, "requests", 5000, "writes through each front")
	return cmd
}
