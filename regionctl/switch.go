package regionctl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/router/traffic"
)

func newSwitchCmd(g *globals) *cobra.Command {
	var req traffic.Request
	var stages string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "switch --buckets LIST --to CELL --reason TEXT [--stages 1,10,100] [--dry-run]",
		Short: "Move buckets (their users) to another cell without losing or doubling a write",
		Long: `switch moves buckets to a cell in four steps: fence them (writes get 503
and are retried), wait until every live router applies the fence, wait
until replication from the old owners' regions has applied everything
written before it, then flip the buckets to the new cell and serve them.
Users cannot write to the moving buckets between the fence and the flip:
that window is measured and recorded.

Guards: if replication is more than router.max_lag behind, or a link is
not running, the switch refuses and changes nothing. If a router does
not apply the fence within router.ack_timeout, or replication does not
catch up within router.catch_up_timeout, the switch aborts and the old
owner serves again.

--stages moves the buckets in cumulative steps (1%, then 10%, then all),
each with its own fence. --dry-run shows what would move, the links'
lag and the expected write-forbidden window, and changes nothing.

The command follows the switch and prints each step; --no-wait returns
once it has started. The exit status is 1 unless the switch completed.`,
		Example: `  regionctl switch --buckets 0-63 --to b1 --reason "move test users" --dry-run --dir /tmp/lab
  regionctl switch --buckets 0-255,300 --to b1 --reason "drain cell a1" --stages 1,10,100 --dir /tmp/lab
  regionctl switch status --dir /tmp/lab
  regionctl switch abort sw-20261125T021000-ab12cd --reason "lag alarm" --dir /tmp/lab
  regionctl switch history --dir /tmp/lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Buckets == "" || req.To == "" {
				return usagef("--buckets and --to are required: e.g. --buckets 0-255 --to b1")
			}
			if strings.TrimSpace(req.Reason) == "" {
				return usagef("--reason: missing: say why the buckets move (it goes into the switch history)")
			}
			if stages != "" {
				for _, p := range strings.Split(stages, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(p))
					if err != nil {
						return usagef("--stages: %q is not a percentage: write e.g. 1,10,100", p)
					}
					req.Stages = append(req.Stages, n)
				}
			}
			return g.call(cmd.Context(), func(c *client.Client) error { return g.runSwitch(cmd.Context(), c, req, noWait) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Buckets, "buckets", "", "buckets to move, e.g. 0-255,300")
	f.StringVar(&req.To, "to", "", "the target cell")
	f.StringVar(&req.Reason, "reason", "", "why (recorded in the switch history)")
	f.StringVar(&stages, "stages", "", "cumulative percentages moved stage by stage, e.g. 1,10,100 (default: all at once)")
	f.BoolVar(&req.DryRun, "dry-run", false, "show what would move and the current lag; change nothing")
	f.BoolVar(&noWait, "no-wait", false, "return once the switch has started")
	cmd.AddCommand(newSwitchStatusCmd(g), newSwitchAbortCmd(g), newSwitchHistoryCmd(g))
	return cmd
}

// runSwitch plans (req.DryRun) or starts a switch, then, unless noWait,
// follows it to its end and prints its record; an exit status of 1
// unless it completed.
func (g *globals) runSwitch(ctx context.Context, c *client.Client, req traffic.Request, noWait bool) error {
	if req.DryRun {
		p, err := c.PlanSwitch(ctx, req)
		if err != nil {
			return err
		}
		if g.json {
			return g.printJSON(p)
		}
		printPlan(g, p)
		return nil
	}
	rec, err := c.StartSwitch(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.progress(), "switch %s started: %s\n", rec.ID, moved(rec))
	if noWait {
		if g.json {
			return g.printJSON(rec)
		}
		return nil
	}
	final, err := g.follow(ctx, c, rec.ID)
	if err != nil {
		return err
	}
	if g.json {
		if err := g.printJSON(final); err != nil {
			return err
		}
	} else {
		printRecord(g, final)
	}
	if final.State != traffic.Done {
		return reported(fmt.Errorf("switch %s %s", final.ID, final.State))
	}
	return nil
}

// moved says what a switch moves: buckets to a cell, global tables to a
// region, or both.
func moved(r *traffic.Record) string {
	var parts []string
	if r.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d buckets (%s) to cell %s", r.Count, r.Buckets, r.To))
	}
	if len(r.Tables) > 0 {
		parts = append(parts, fmt.Sprintf("global tables %s to region %s", strings.Join(r.Tables, ", "), r.ToRegion))
	}
	return strings.Join(parts, " and ")
}

// follow polls a switch, printing each step as it ends, until it is over.
func (g *globals) follow(ctx context.Context, c *client.Client, id string) (*traffic.Record, error) {
	shown := 0
	for {
		rec, err := c.Switch(ctx, id)
		if err != nil {
			return nil, err
		}
		for ; shown < len(rec.Steps) && !rec.Steps[shown].End.IsZero(); shown++ {
			s := rec.Steps[shown]
			ok := "ok"
			if !s.OK {
				ok = "FAILED"
			}
			fmt.Fprintf(g.progress(), "  stage %d %-17s %-6s %6d ms  %s\n", s.Stage, s.Name, ok, s.End.Sub(s.Start).Milliseconds(), s.Detail)
		}
		if rec.State != traffic.Running {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printPlan(g *globals, p *traffic.Plan) {
	if p.Count > 0 {
		fmt.Fprintf(g.out, "dry run: %d buckets (%s) to cell %s in region %s, stages %v\n", p.Count, p.Buckets, p.To, p.ToRegion, p.Stages)
	}
	if len(p.Tables) > 0 {
		fmt.Fprintf(g.out, "dry run: the home of global tables %s to region %s\n", strings.Join(p.Tables, ", "), p.ToRegion)
	}
	for _, m := range p.Moves {
		fmt.Fprintf(g.out, "  %d buckets leave cell %s (region %s): %s\n", m.Count, m.Cell, m.Region, m.Buckets)
	}
	for _, l := range p.Links {
		fmt.Fprintf(g.out, "  link %s->%s %s, lag %.2fs / %d txns\n", l.From, l.To, l.State, l.LagSeconds, l.LagTxns)
	}
	fmt.Fprintf(g.out, "  expected write-forbidden window: about %d ms per stage\n", p.ExpectedFenceMS)
	for _, w := range p.Warnings {
		fmt.Fprintf(g.out, "  WARNING: %s\n", w)
	}
	fmt.Fprintln(g.out, "nothing was changed")
}

func printRecord(g *globals, r *traffic.Record) {
	from := strings.Join(append(append([]string(nil), r.From...), r.FromHomes...), ",")
	fmt.Fprintf(g.out, "switch %s %s: %s, from %s, by %s (%s)\n", r.ID, strings.ToUpper(r.State), moved(r), from, r.Actor, r.Reason)
	end := r.Ended
	if end.IsZero() {
		end = time.Now()
	}
	fmt.Fprintf(g.out, "  write-forbidden window %d ms, total %d ms\n", r.WriteForbiddenMS, end.Sub(r.Started).Milliseconds())
	if r.Error != "" {
		fmt.Fprintf(g.out, "  error: %s\n", r.Error)
	}
}

func newSwitchStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status [ID]",
		Short: "Show the running switches, or one switch with every step",
		Example: `  regionctl switch status --dir /tmp/lab
  regionctl switch status sw-20261125T021000-ab12cd --dir /tmp/lab --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				if len(args) == 1 {
					rec, err := c.Switch(cmd.Context(), args[0])
					if err != nil {
						return err
					}
					if g.json {
						return g.printJSON(rec)
					}
					printRecord(g, rec)
					tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
					for _, s := range rec.Steps {
						d := "running"
						if !s.End.IsZero() {
							d = fmt.Sprintf("%d ms", s.End.Sub(s.Start).Milliseconds())
						}
						fmt.Fprintf(tw, "  stage %d\t%s\tok=%v\t%s\t%s\n", s.Stage, s.Name, s.OK, d, s.Detail)
					}
					return tw.Flush()
				}
				a, err := c.Switches(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a.Active)
				}
				if len(a.Active) == 0 {
					fmt.Fprintln(g.out, "no switch is running")
				}
				for i := range a.Active {
					printRecord(g, &a.Active[i])
				}
				return nil
			})
		},
	}
}

func newSwitchAbortCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abort ID --reason TEXT",
		Short: "Stop a running switch; the old owners serve its buckets again",
		Long: `abort stops a running switch at its next check and lifts its fence: the
buckets not yet flipped serve from their old cells again. If the process
running the switch is gone, abort lifts the fence itself.`,
		Example: `  regionctl switch abort sw-20261125T021000-ab12cd --reason "lag alarm on a->b" --dir /tmp/lab`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason: missing: say why the switch is aborted")
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				rec, err := c.AbortSwitch(cmd.Context(), args[0], api.AbortRequest{Reason: reason})
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(rec)
				}
				printRecord(g, rec)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	return cmd
}

func newSwitchHistoryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "history",
		Short:   "List finished switches: who, why, state, write-forbidden window",
		Example: `  regionctl switch history --dir /tmp/lab --json | jq '.[0].write_forbidden_ms'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				a, err := c.Switches(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a.History)
				}
				tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTARTED\tSTATE\tBUCKETS\tTO\tFORBIDDEN MS\tACTOR\tREASON")
				for _, r := range a.History {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05Z"), r.State, r.Buckets, r.To, r.WriteForbiddenMS, r.Actor, r.Reason)
				}
				return tw.Flush()
			})
		},
	}
}
