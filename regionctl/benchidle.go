package regionctl

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/bench"
	"github.com/regionplatform/region/lab"
)

func newBenchIdleCmd(g *globals) *cobra.Command {
	o := bench.IdleOptions{Settle: 15 * time.Second, Duration: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "idle [--settle 15s] [--duration 30s]",
		Short: "What an idle deployment costs: CPU of every lab process, against MariaDB's own",
		Long: `idle starts a fresh two-region lab (or measures the one --dir names, if it
runs), writes nothing, lets it settle, and measures the CPU time every
process spends over --duration: what the platform costs standing still
(Raft and gossip heartbeats, capture heartbeats and checkpoints, appliers'
polls, the brokers and etcd). It reports each process in cores (CPU seconds
a second), and the platform's processes against the regions' MariaDB
servers measured in the same window.`,
		Example: `  make build
  bin/regionctl bench idle
  bin/regionctl bench idle --duration 60s --json`,
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
			o.Bin, o.Progress = bin, g.progress()
			o.Dir = g.dir
			if st, err := lab.LoadState(g.dir); g.dir != "" && err == nil && st.Regions[0].Regiond.Alive() {
				fmt.Fprintf(g.progress(), "measuring the lab running in %s\n", g.dir)
				o.Lab = st
			}
			rep, err := bench.RunIdle(ctx, o)
			if err != nil {
				return err
			}
			return g.printReport(rep)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Settle, "settle", o.Settle, "how long the lab runs before it is measured")
	f.DurationVar(&o.Duration, "duration", o.Duration, "how long it is measured")
	return cmd
}
