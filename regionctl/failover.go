package regionctl

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/controller"
)

func newFailoverCmd(g *globals) *cobra.Command {
	var req api.FailoverRequest
	var planned, force bool
	cmd := &cobra.Command{
		Use:   "failover --from REGION [--to REGION] (--planned|--force) --reason TEXT",
		Short: "Move every cell out of a region: planned (no data lost) or forced (the region is gone)",
		Long: `failover moves every bucket whose cell lives in --from to a cell of --to
(default: the standby region of --from's cells). The controller's leader
runs it; every step is recorded in the controller's Raft log first.

--planned is a traffic switch of all those buckets: fence, wait for every
router, wait for replication from --from to apply everything, flip. No
acknowledged write is lost (RPO 0); users of those buckets cannot write
for the write-forbidden window, which is reported with the total time.

--force is for a region that is gone: the region is fenced (in the
controller and the routing table: its routers refuse writes, also if it
comes back cut off), the link to --to applies what already reached Kafka
(bounded by router.catch_up_timeout), and its buckets move to a cell of
--to at once. The report says the RPO: the last transaction of --from the
survivor applied and, once --from's binlog can be read, exactly which
transactions were lost; until then the count is "pending" and the
controller completes it when the region's MySQL answers again.

The promotion guard: with controller.rpo_budget set, a forced failover
whose survivor still lacks more transactions than the budget after
draining (or cannot prove what it applied) moves nothing, lifts the fence
and says so; --accept-rpo goes ahead anyway.

The exit status is 1 unless the failover completed.`,
		Example: `  regionctl failover --from a --planned --reason "maintenance of region a" --dir /tmp/lab
  regionctl failover --from a --to b --planned --reason "drill" --json --dir /tmp/lab
  regionctl failover history --dir /tmp/lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case req.From == "":
				return usagef("--from: missing: name the region to move out of")
			case planned == force:
				return usagef("say --planned (the region answers: no data lost) or --force (the region is gone)")
			case strings.TrimSpace(req.Reason) == "":
				return usagef("--reason: missing: say why (it goes into the failover history)")
			}
			req.Kind = controller.KindPlanned
			if force {
				req.Kind = controller.KindForced
			}
			fmt.Fprintf(g.progress(), "%s failover of region %s: asking the controller's leader\n", req.Kind, req.From)
			return g.call(cmd.Context(), func(c *client.Client) error {
				// One that rolled back comes with its report: print it.
				rep, err := c.Failover(cmd.Context(), req)
				if rep == nil {
					return err
				}
				if g.json {
					if err := g.printJSON(rep); err != nil {
						return err
					}
					return notDone("failover", rep)
				}
				rpo := fmt.Sprintf("RPO %d transactions", rep.RPO.LostCount)
				if rep.RPO.Pending {
					rpo = fmt.Sprintf("RPO PENDING (last applied %s; the count follows when %s's binlog can be read: regionctl failover history)", rep.RPO.LastAppliedGTID, rep.From)
				} else if rep.RPO.LostGTIDs != "" {
					rpo += " (" + rep.RPO.LostGTIDs + ")"
				}
				fmt.Fprintf(g.out, "failover %s (%s) of region %s to %s: %s in %d ms, write-forbidden %d ms, %s\n",
					rep.ID, rep.Kind, rep.From, rep.To, strings.ToUpper(rep.State), rep.DurationMS, rep.WriteForbiddenMS, rpo)
				for _, s := range rep.Switches {
					fmt.Fprintf(g.out, "  switch %s: %d buckets to cell %s, %s\n", s.ID, s.Count, s.To, s.State)
				}
				return notDone("failover", rep)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.From, "from", "", "the region to move out of")
	f.StringVar(&req.To, "to", "", "the region to move to (default: the standby of --from's cells)")
	f.BoolVar(&planned, "planned", false, "the region answers: switch its buckets, no data lost")
	f.BoolVar(&force, "force", false, "the region is gone: fence it and move its cells at once (RPO reported)")
	f.StringVar(&req.Reason, "reason", "", "why (recorded)")
	f.BoolVar(&req.AcceptRPO, "accept-rpo", false, "with --force: go ahead even if the survivor lacks more than controller.rpo_budget transactions")
	cmd.AddCommand(&cobra.Command{
		Use:     "history",
		Short:   "List the failovers the controller recorded",
		Example: `  regionctl failover history --dir /tmp/lab --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				fos, err := c.Failovers(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(fos)
				}
				tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tFROM\tTO\tSTATE\tSTARTED\tACTOR\tREASON")
				for _, f := range fos {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Kind, f.From, f.To, f.State, f.StartedAt.Format("2006-01-02 15:04:05Z"), f.Actor, f.Reason)
				}
				return tw.Flush()
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one failover's steps as the controller recorded them",
		Long: `show prints a failover's record: who asked and why, each step with its
time and result, the RPO, and how it ended. A failover whose leader died
midway has a "take-over" step where a new leader went on with it.`,
		Example: `  regionctl failover show fo-20261125t060037-bf722e --dir /tmp/lab`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				fos, err := c.Failovers(cmd.Context())
				if err != nil {
					return err
				}
				i := slices.IndexFunc(fos, func(f controller.FailoverRecord) bool { return f.ID == args[0] })
				if i < 0 {
					return fmt.Errorf("failover %q is not in the controller's history: regionctl failover history lists them", args[0])
				}
				f := fos[i]
				if g.json {
					return g.printJSON(f)
				}
				printFailover(g.out, f)
				return nil
			})
		},
	})
	return cmd
}

// printFailover writes a failover record for a person to read.
func printFailover(w io.Writer, f controller.FailoverRecord) {
	fmt.Fprintf(w, "failover %s: %s %s -> %s, %s\n", f.ID, f.Kind, f.From, f.To, strings.ToUpper(f.State))
	fmt.Fprintf(w, "  asked by %s at %s: %s\n", f.Actor, f.StartedAt.Format(time.RFC3339), f.Reason)
	if f.Undoes != "" {
		fmt.Fprintf(w, "  undoes failover %s\n", f.Undoes)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range f.Steps {
		fmt.Fprintf(tw, "  %s\t+%s\t%s\t%s\n", s.At.Format("15:04:05.000"), s.At.Sub(f.StartedAt).Round(time.Millisecond), s.Name, s.Result)
		if s.Detail != "" {
			fmt.Fprintf(tw, "  \t\t\t%s\n", s.Detail)
		}
	}
	_ = tw.Flush()
	switch {
	case f.Kind != controller.KindForced:
	case f.RPO.Pending:
		fmt.Fprintf(w, "  RPO pending: last applied %s; the count follows when %s's binlog can be read\n", f.RPO.LastAppliedGTID, f.From)
	default:
		fmt.Fprintf(w, "  RPO: %d transactions lost after %s %s\n", f.RPO.LostCount, f.RPO.LastAppliedGTID, f.RPO.LostGTIDs)
		if f.RPO.Uncounted != "" {
			fmt.Fprintf(w, "  and uncounted: %s\n", f.RPO.Uncounted)
		}
		for _, r := range slices.Sorted(maps.Keys(f.RPO.Others)) {
			o := f.RPO.Others[r]
			fmt.Fprintf(w, "  region %s lacked %d transactions after %s %s (its rows apart from %s's are reconciled at the failback)\n", r, o.LostCount, o.LastAppliedGTID, o.LostGTIDs, f.To)
		}
	}
	if !f.EndedAt.IsZero() {
		fmt.Fprintf(w, "  ended %s after %s\n", f.EndedAt.Format(time.RFC3339), f.EndedAt.Sub(f.StartedAt).Round(time.Millisecond))
	}
}

func newFailbackCmd(g *globals) *cobra.Command {
	req := api.FailbackRequest{}
	cmd := &cobra.Command{
		Use:   "failback --to REGION --reason TEXT",
		Short: "Bring a region back after its failover: catch up, report divergence, switch its buckets back",
		Long: `failback undoes the last failover out of --to, once the region answers again:
it waits until the region has applied everything written in the survivor
since, reports the rows that diverged there (what the region committed that
the survivor never applied: the forced failover's RPO), lifts the region's
fence, and moves back every bucket its cells owned before the failover,
with traffic switches (write-forbidden windows reported, RPO 0).`,
		Example: `  regionctl lab start --region a --component all --dir /tmp/lab
  regionctl failback --to a --reason "region a repaired" --dir /tmp/lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.To == "" || strings.TrimSpace(req.Reason) == "" {
				return usagef("--to and --reason are required: e.g. --to a --reason \"region a repaired\"")
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				// One that rolled back comes with its report: print it.
				rep, err := c.Failback(cmd.Context(), req)
				if rep == nil {
					return err
				}
				if g.json {
					if err := g.printJSON(rep); err != nil {
						return err
					}
					return notDone("failback", rep)
				}
				fmt.Fprintf(g.out, "failback %s to region %s: %s in %d ms, write-forbidden %d ms\n", rep.ID, req.To, strings.ToUpper(rep.State), rep.DurationMS, rep.WriteForbiddenMS)
				for _, s := range rep.Switches {
					fmt.Fprintf(g.out, "  switch %s: %d buckets to cell %s, %s\n", s.ID, s.Count, s.To, s.State)
				}
				switch {
				case rep.RPO.Pending:
					fmt.Fprintf(g.out, "  divergence: unknown, the failover's RPO is still pending\n")
				case rep.RPO.LostCount > 0:
					fmt.Fprintf(g.out, "  divergence: %d transactions committed in %s were never applied elsewhere: %s\n", rep.RPO.LostCount, req.To, rep.RPO.LostGTIDs)
				}
				return notDone("failback", rep)
			})
		},
	}
	cmd.Flags().StringVar(&req.To, "to", "", "the region to bring back")
	cmd.Flags().StringVar(&req.Reason, "reason", "", "why (recorded)")
	return cmd
}

// notDone is the exit of a failover or failback whose report is printed:
// nil when it completed, else a failure that the report shows.
func notDone(what string, rep *api.FailoverReport) error {
	if rep.State == controller.FailoverDone {
		return nil
	}
	msg := fmt.Sprintf("%s %s %s", what, rep.ID, rep.State)
	if rep.Error != "" {
		msg += ": " + rep.Error
	}
	return reported(errors.New(msg))
}
