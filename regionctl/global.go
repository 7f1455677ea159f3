package regionctl

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
)

func newGlobalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "global",
		Short: "Global tables: one writer region (the home), a read-only copy everywhere else",
		Long: `A global table (replication.tables[] class: global, e.g. a product
catalogue) is written in one region, its home, and read from a copy in
every other region. The data-access guard refuses its writes elsewhere,
the gateway sends the routes router.global_writes declares to the home
(409 for a user who lives elsewhere), and an applier logs a write that
slipped through anyway in _region.violations.

The config names the first home; the live one is in the routing table.
A home moves like a bucket: fence (writes of the table refused), wait for
every router, wait until replication from the old home has applied its
last writes, flip. A planned failover moves the failed region's tables
with its buckets and a failback moves them back.`,
		Example: `  regionctl global list --dir /tmp/lab
  regionctl global move lending.products --to b --reason "catalogue team moves to b" --dir /tmp/lab`,
	}
	cmd.AddCommand(newGlobalListCmd(g), newGlobalMoveCmd(g))
	return cmd
}

func newGlobalListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "Show every global table's home and whether a move fences it",
		Example: `  regionctl global list --dir /tmp/lab --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				a, err := c.Routes(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a.Table.Globals)
				}
				if len(a.Table.Globals) == 0 {
					fmt.Fprintln(g.out, "no global tables: give a table class: global and a home in replication.tables")
					return nil
				}
				printGlobals(g, a.Table)
				return nil
			})
		},
	}
}

// printGlobals prints the global tables of t.
func printGlobals(g *globals, t *router.Table) {
	tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GLOBAL TABLE\tHOME\tSTATE")
	for _, gl := range t.Globals {
		state := gl.State
		if gl.Switch != "" {
			state += " by " + gl.Switch
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", gl.Table, gl.Home, state)
	}
	tw.Flush()
}

func newGlobalMoveCmd(g *globals) *cobra.Command {
	var req traffic.Request
	var noWait bool
	cmd := &cobra.Command{
		Use:   "move TABLE... --to REGION --reason TEXT [--dry-run]",
		Short: "Move global tables' home to another region (fence, wait, flip)",
		Long: `move makes REGION the only region that writes each TABLE, with one traffic
switch of the tables: their writes are refused everywhere (503, retried)
from the fence until the flip, which comes once every router applied the
fence and REGION applied the old homes' last writes. The window is
measured and recorded (regionctl switch history). Tables an application
writes in one transaction must share a home: move them together. The
exit status is 1 unless the move completed.`,
		Example: `  regionctl global move lending.products --to b --reason "region a maintenance" --dry-run --dir /tmp/lab
  regionctl global move lending.products lending.product_prices --to b --reason "region a maintenance" --dir /tmp/lab`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.To == "" {
				return usagef("--to: missing: name the region that becomes the home, e.g. --to b")
			}
			if strings.TrimSpace(req.Reason) == "" {
				return usagef("--reason: missing: say why the home moves (it goes into the switch history)")
			}
			req.Tables = args
			return g.call(cmd.Context(), func(c *client.Client) error { return g.runSwitch(cmd.Context(), c, req, noWait) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.To, "to", "", "the region that becomes the home")
	f.StringVar(&req.Reason, "reason", "", "why (recorded in the switch history)")
	f.BoolVar(&req.DryRun, "dry-run", false, "show what would move and the current lag; change nothing")
	f.BoolVar(&noWait, "no-wait", false, "return once the move has started")
	return cmd
}
