package regionctl

import (
	"github.com/spf13/cobra"

	"github.com/regionplatform/region/bench"
)

func newBenchTransfersCmd(g *globals) *cobra.Command {
	o := bench.DefaultTransferOptions()
	cmd := &cobra.Command{
		Use:   "transfers [--duration 20s] [--threads 4] [--users 200]",
		Short: "Both regions writing at once: the platform against MariaDB's master-master replication",
		Long: `transfers runs an active-active workload twice, one run after the other:

  region-platform         a fresh two-region lab (a and b), replicated by regiond
  mariadb-master-master   two MariaDB servers configured like the lab's, each a
                          replica of the other (GTIDs, optimistic parallel
                          replication with 4 threads, interleaved auto-increments)

In each region --threads writers move money between the two accounts of one
of the region's --users users (lending.accounts) and append a ledger row
(lending.ledger_entries), in one transaction, for --duration; each region's
users are its own (in the lab, users of the cell it holds). It reports the
transfers committed a second in both regions together, the deadlocks retried,
how long after the load both regions hold the same rows (CHECKSUM TABLE),
whether every user's balances still sum to what they were given, and the
servers' CPU per transfer; then the platform's rate over master-master's.
A difference between the regions fails the command.

Servers go under --dir (a new or empty folder, kept afterwards), or a
temporary folder that is removed. Progress goes to stderr; the result (with
--json, one object) to stdout.`,
		Example: `  make build
  bin/regionctl bench transfers
  bin/regionctl bench transfers --duration 30s --threads 8 --json`,
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
			o.Bin, o.Progress, o.Dir = bin, g.progress(), g.dir
			rep, err := bench.RunTransfers(ctx, o)
			if err != nil {
				return err
			}
			return g.printChecked(rep)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", o.Duration, "how long each run's load lasts")
	f.IntVar(&o.Threads, "threads", o.Threads, "writers in each region")
	f.IntVar(&o.Users, "users", o.Users, "users in each region (each region writes only its own)")
	return cmd
}
