package regionctl

import (
	"github.com/spf13/cobra"

	"github.com/regionplatform/region/bench"
)

func newBenchRebuildCmd(g *globals) *cobra.Command {
	o := bench.RebuildOptions{Rows: 200000, Runs: 3, Batch: 500}
	cmd := &cobra.Command{
		Use:   "rebuild [--rows 200000] [--runs 3]",
		Short: "How fast region rebuild copies tables, against mariadb-dump | mariadb",
		Long: `rebuild starts two MariaDB servers, fills two tables (loans and ledger rows,
with a secondary index, a unique key, DECIMAL, DATETIME(6) and accented text)
in the first, and copies them into the second both ways, alternating, --runs
times each: with region rebuild's copy (each table in a consistent snapshot,
multi-row INSERTs, the positions recorded) and with mariadb-dump
--single-transaction piped into mariadb. Neither writes the target's binlog.
Each copy is checked with CHECKSUM TABLE against the donor. It reports rows a
second (median) and the ratio.`,
		Example: `  make build
  bin/regionctl bench rebuild
  bin/regionctl bench rebuild --rows 1000000 --runs 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return usageError(err)
			}
			ctx, stop, _, err := g.benchStart(cmd)
			if err != nil {
				return err
			}
			defer stop()
			o.Progress = g.progress()
			rep, err := bench.RunRebuild(ctx, o)
			if err != nil {
				return err
			}
			return g.printReport(rep)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rows, "rows", o.Rows, "rows of each of the two tables")
	f.IntVar(&o.Runs, "runs", o.Runs, "copies each way (the median is reported)")
	f.IntVar(&o.Batch, "batch", o.Batch, "the rebuild's rows per INSERT")
	return cmd
}
