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
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/client"
)

func newLinkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Get a halted replication link going (show, retry, skip), or pause and resume one",
		Long: `A link (SOURCE->TARGET) halts a partition on a message it cannot apply
(a value the target's column cannot hold, a conflict on a reject table,
an undecodable message): nothing after it is applied until an operator
acts. Fix the cause and retry; or skip the message: it is kept whole in
the target's _region.quarantine (shown here and in status until someone
resolves it) and its rows are missing in the target until repaired
(regionctl verify --repair). Every action is audited.

An operator can also pause a link, as STOP SLAVE SQL_THREAD does for a MySQL
replica (maintenance of the target, a heavy batch job there): nothing more
is applied, the source's messages wait in its Kafka (within its retention),
and the pause survives a restart of regiond until someone resumes the link.
A paused link makes traffic switches into its target fail at once.`,
		Example: `  regionctl link show 'a->b' --dir /tmp/lab
  regionctl link retry 'a->b' --reason "widened lending.users.email" --dir /tmp/lab
  regionctl link skip 'a->b' --partition 3 --reason "test message sent by hand" --dir /tmp/lab
  regionctl link resolve 'a->b' --id 1 --resolution "repaired with verify --repair" --dir /tmp/lab
  regionctl link pause 'a->b' --reason "index rebuild on b" --dir /tmp/lab
  regionctl link resume 'a->b' --reason "index rebuilt" --dir /tmp/lab`,
	}
	cmd.AddCommand(newLinkShowCmd(g), newLinkRetryCmd(g), newLinkSkipCmd(g), newLinkResolveCmd(g), newLinkPauseCmd(g, true), newLinkPauseCmd(g, false))
	return cmd
}

// linkTarget parses SOURCE->TARGET and calls fn with a client of the
// target region's regiond (where the link applies).
func (g *globals) linkTarget(ctx context.Context, link string, fn func(c *client.Client, from, to string) error) error {
	from, to, ok := strings.Cut(link, "->")
	if !ok || from == "" || to == "" || from == to {
		return usagef("link %q: write SOURCE->TARGET, e.g. a->b (quote it in a shell: 'a->b')", link)
	}
	cfg, err := g.deployment()
	if err != nil {
		return err
	}
	r, ok := cfg.Region(to)
	if _, src := cfg.Region(from); !ok || !src {
		return usagef("link %s: regions are %v", link, cfg.RegionNames())
	}
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	return fn(c.At(r.URL), from, to)
}

func newLinkShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show SOURCE->TARGET",
		Short:   "Show a link's partitions, why any halted, and the messages skipped on it",
		Example: `  regionctl link show 'a->b' --dir /tmp/lab --json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.linkTarget(cmd.Context(), args[0], func(c *client.Client, from, _ string) error {
				v, err := c.Link(cmd.Context(), from)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(v)
				}
				l := v.Link
				fmt.Fprintf(g.out, "link %s->%s: %s, applied seq %d of %d published, lag %d txns %.1fs\n", l.From, l.To, strings.ToUpper(l.State), l.AppliedSeq, l.PublishedSeq, l.LagTxns, l.LagSeconds)
				if p := l.Pause; p != nil {
					fmt.Fprintf(g.out, "paused by %s at %s: %s (regionctl link resume '%s->%s')\n", p.PausedBy, p.PausedAt.Format(time.RFC3339), p.Reason, l.From, l.To)
				}
				tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PARTITION\tSTATE\tOFFSET\tSEQ\tHALTED AT\tERROR")
				for _, p := range l.Partitions {
					at := ""
					if p.State == apply.StateHalted {
						at = strconv.FormatInt(p.HaltedAt, 10)
					}
					fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", p.Partition, p.State, p.Offset, p.Seq, at, p.Error)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(v.Quarantine) == 0 {
					fmt.Fprintln(g.out, "quarantine: empty")
					return nil
				}
				fmt.Fprintf(g.out, "quarantine: %d unresolved\n", l.Quarantined)
				tw = tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPARTITION\tOFFSET\tGTID\tSKIPPED BY\tREASON\tRESOLVED")
				for _, q := range v.Quarantine {
					res := "no"
					if q.ResolvedAt != nil {
						res = q.ResolvedBy + ": " + q.Resolution
					}
					fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\n", q.ID, q.Partition, q.Offset, q.GTID, q.SkippedBy, q.Reason, res)
				}
				return tw.Flush()
			})
		},
	}
}

func newLinkRetryCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:     "retry SOURCE->TARGET --reason TEXT",
		Short:   "Start every halted partition of a link again from its checkpoint, once the cause is fixed",
		Example: `  regionctl link retry 'a->b' --reason "widened lending.users.email" --dir /tmp/lab`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason: missing: say what was fixed (it goes into the audit log)")
			}
			return g.linkTarget(cmd.Context(), args[0], func(c *client.Client, from, to string) error {
				a, err := c.RetryLink(cmd.Context(), from, api.RetryRequest{Reason: reason})
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a)
				}
				if len(a.Partitions) == 0 {
					fmt.Fprintf(g.out, "link %s->%s has no halted partition\n", from, to)
					return nil
				}
				fmt.Fprintf(g.out, "link %s->%s: partitions %v start again from their checkpoints (regionctl link show %s->%s)\n", from, to, a.Partitions, from, to)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "what was fixed (audited)")
	return cmd
}

func newLinkSkipCmd(g *globals) *cobra.Command {
	var reason string
	var part int
	cmd := &cobra.Command{
		Use:   "skip SOURCE->TARGET --partition N --reason TEXT",
		Short: "Move a halted partition past the message it halted on, keeping the message in quarantine",
		Long: `skip does not apply the message the partition halted on: it keeps it whole
in the target's _region.quarantine and moves the partition's checkpoint
past it, in one transaction, then starts the partition again. The rows of
the skipped transaction are missing in the target region until someone
repairs them (regionctl verify --repair) and resolves the quarantined
message (regionctl link resolve).`,
		Example: `  regionctl link skip 'a->b' --partition 3 --reason "test message sent by hand" --dir /tmp/lab`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case part < 0:
				return usagef("--partition: missing: name the halted partition (regionctl link show lists them)")
			case strings.TrimSpace(reason) == "":
				return usagef("--reason: missing: say why the message is skipped (it is kept with it)")
			}
			return g.linkTarget(cmd.Context(), args[0], func(c *client.Client, from, to string) error {
				q, err := c.SkipLink(cmd.Context(), from, api.SkipRequest{Partition: int32(part), Reason: reason})
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(q)
				}
				fmt.Fprintf(g.out, "link %s->%s: partition %d skipped offset %d (transaction %s), quarantine id %d; its rows are missing in %s until repaired\n",
					from, to, q.Partition, q.Offset, orNone(q.GTID), q.ID, to)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept with the quarantined message, audited)")
	cmd.Flags().IntVar(&part, "partition", -1, "the halted partition")
	return cmd
}

func newLinkResolveCmd(g *globals) *cobra.Command {
	var resolution string
	var id int64
	cmd := &cobra.Command{
		Use:     "resolve SOURCE->TARGET --id N --resolution TEXT",
		Short:   "Mark a quarantined message resolved (repaired, or deliberately left out)",
		Example: `  regionctl link resolve 'a->b' --id 1 --resolution "repaired with verify --repair" --dir /tmp/lab`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case id <= 0:
				return usagef("--id: missing: name the quarantined message (regionctl link show lists them)")
			case strings.TrimSpace(resolution) == "":
				return usagef("--resolution: missing: say what was done about it")
			}
			return g.linkTarget(cmd.Context(), args[0], func(c *client.Client, from, to string) error {
				if err := c.ResolveQuarantined(cmd.Context(), from, id, api.ResolveRequest{Resolution: resolution}); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"resolved": id})
				}
				fmt.Fprintf(g.out, "link %s->%s: quarantined message %d resolved\n", from, to, id)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&resolution, "resolution", "", "what was done about it (audited)")
	cmd.Flags().Int64Var(&id, "id", 0, "the quarantined message's id")
	return cmd
}

// newLinkPauseCmd is link pause (pause) or link resume.
func newLinkPauseCmd(g *globals, pause bool) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:     "pause SOURCE->TARGET --reason TEXT",
		Short:   "Stop a link applying (its messages wait in the source's Kafka) until it is resumed",
		Example: `  regionctl link pause 'a->b' --reason "index rebuild on b" --dir /tmp/lab`,
	}
	if !pause {
		cmd.Use, cmd.Short = "resume SOURCE->TARGET --reason TEXT", "Let a paused link apply again, from its checkpoints"
		cmd.Example = `  regionctl link resume 'a->b' --reason "index rebuilt" --dir /tmp/lab`
	}
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(reason) == "" {
			return usagef("--reason: missing: say why (it goes into the audit log%s)", map[bool]string{true: " and status shows it", false: ""}[pause])
		}
		return g.linkTarget(cmd.Context(), args[0], func(c *client.Client, from, to string) error {
			call := c.ResumeLink
			if pause {
				call = c.PauseLink
			}
			l, err := call(cmd.Context(), from, api.PauseRequest{Reason: reason})
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(l)
			}
			if pause {
				fmt.Fprintf(g.out, "link %s->%s paused at seq %d of %d published: nothing more is applied until regionctl link resume '%s->%s'\n", from, to, l.AppliedSeq, l.PublishedSeq, from, to)
				return nil
			}
			fmt.Fprintf(g.out, "link %s->%s resumed: it applies from seq %d, %d transactions behind (regionctl link show '%s->%s')\n", from, to, l.AppliedSeq, l.LagTxns, from, to)
			return nil
		})
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (audited)")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "undecodable"
	}
	return s
}
