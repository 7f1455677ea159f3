package regionctl

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/router"
)

func newRouteCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Look at the routing table: where users go, its versions, and roll it back",
		Long: `route shows the routing table the deployment keeps in etcd: users hash to
buckets, buckets belong to cells, cells live in regions. Every change
makes a new version (epoch); every version is kept.`,
		Example: `  regionctl route get --user 1042 --dir /tmp/lab
  regionctl route show --dir /tmp/lab
  regionctl route history --dir /tmp/lab
  regionctl route rollback --to-epoch 3 --reason "undo the 02:10 switch" --dir /tmp/lab`,
	}
	cmd.AddCommand(newRouteGetCmd(g), newRouteShowCmd(g), newRouteHistoryCmd(g), newRouteRollbackCmd(g))
	return cmd
}

// call finds a regiond and calls fn with the client and its URL.
func (g *globals) call(ctx context.Context, fn func(c *client.Client) error) error {
	cfg, err := g.deployment()
	if err != nil {
		return err
	}
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	base, err := client.Reachable(ctx, c.HTTP, cfg)
	if err != nil {
		return err
	}
	return fn(c.At(base))
}

func newRouteGetCmd(g *globals) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:     "get --user ID",
		Short:   "Show where a user's requests go: bucket, cell, region, and whether writes are forbidden",
		Example: `  regionctl route get --user 1042 --dir /tmp/lab --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user: missing: give the user's shard key, e.g. --user 1042")
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				a, err := c.Route(cmd.Context(), user)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a)
				}
				state := "serving"
				if a.WriteForbidden {
					state = "WRITE-FORBIDDEN (a switch is moving it)"
				}
				fmt.Fprintf(g.out, "user %s -> bucket %d -> cell %s -> region %s, %s (epoch %d)\n", a.User, a.Bucket, a.Cell, a.Region, state, a.Epoch)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user's shard key (e.g. the user id)")
	return cmd
}

func newRouteShowCmd(g *globals) *cobra.Command {
	var epoch uint64
	cmd := &cobra.Command{
		Use:   "show [--epoch N]",
		Short: "Show the routing table (or a past version) and every live router's epoch",
		Example: `  regionctl route show --dir /tmp/lab
  regionctl route show --epoch 2 --dir /tmp/lab --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				a := &api.RoutesAnswer{}
				var err error
				if epoch > 0 {
					a.Table, err = c.RouteVersion(cmd.Context(), epoch)
				} else {
					a, err = c.Routes(cmd.Context())
				}
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a)
				}
				printTable(g, *a)
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&epoch, "epoch", 0, "show this past version instead of the current one")
	return cmd
}

func printTable(g *globals, a api.RoutesAnswer) {
	t := a.Table
	fmt.Fprintf(g.out, "routing table epoch %d: %d buckets, last change %s by %s at %s (%s)\n", t.Epoch, t.Buckets,
		t.Change.Kind, t.Change.Actor, t.Change.Time.Format("2006-01-02 15:04:05Z"), t.Change.Reason)
	tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKETS\tCELL\tREGION\tSTATE")
	for _, s := range t.Spans {
		c, _ := t.Cell(s.Cell)
		state := s.State
		if s.Switch != "" {
			state += " by " + s.Switch
		}
		fmt.Fprintf(tw, "%d-%d\t%s\t%s\t%s\n", s.First, s.Last, s.Cell, c.Region, state)
	}
	for _, c := range t.Cells {
		if !slices.ContainsFunc(t.Spans, func(s router.Span) bool { return s.Cell == c.Name }) {
			fmt.Fprintf(tw, "none\t%s\t%s\t\n", c.Name, c.Region)
		}
	}
	tw.Flush()
	for _, r := range t.Regions {
		if r.Fenced {
			fmt.Fprintf(g.out, "region %s is FENCED: %s\n", r.Name, r.Reason)
		}
	}
	if len(t.Globals) > 0 {
		fmt.Fprintln(g.out)
		printGlobals(g, t)
	}
	if a.Routers == nil {
		return
	}
	fmt.Fprintf(g.out, "\n%d live routers:\n", len(a.Routers))
	tw = tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	for _, r := range a.Routers {
		mark := ""
		if r.Epoch < t.Epoch {
			mark = "  BEHIND"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\tepoch %d%s\n", r.ID, r.Kind, r.Region, r.Epoch, mark)
	}
	tw.Flush()
}

func newRouteHistoryCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "history [--limit N]",
		Short:   "List the routing table's versions: epoch, what changed, who and why",
		Example: `  regionctl route history --limit 20 --dir /tmp/lab`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit: %d: use a count, 0 for all", limit)
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				a, err := c.RouteHistory(cmd.Context(), limit)
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(a)
				}
				tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EPOCH\tTIME\tCHANGE\tACTOR\tCELLS\tFENCED\tREASON")
				for _, v := range a.Versions {
					var cells []string
					for c, n := range v.Cells {
						cells = append(cells, fmt.Sprintf("%s:%d", c, n))
					}
					slices.Sort(cells)
					kind := v.Change.Kind
					if v.Change.Switch != "" {
						kind += " " + v.Change.Switch
					}
					if v.Change.From != 0 {
						kind += fmt.Sprintf(" to %d", v.Change.From)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", v.Epoch, v.Change.Time.Format("2006-01-02 15:04:05Z"), kind, v.Change.Actor,
						strings.Join(cells, " "), v.Fenced, v.Change.Reason)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "how many versions, newest first (0: all)")
	return cmd
}

func newRouteRollbackCmd(g *globals) *cobra.Command {
	var epoch uint64
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback --to-epoch N --reason TEXT",
		Short: "Restore the placement of a past version, as a new version",
		Long: `rollback makes the bucket placement of epoch N current again, as a new
epoch. It moves buckets without the fence of a traffic switch, so it is for
undoing a mistake quickly; prefer regionctl switch for planned moves. It
refuses while a switch holds buckets fenced, and when the old placement
would put buckets into a fenced region.`,
		Example: `  regionctl route rollback --to-epoch 3 --reason "undo the 02:10 switch" --dir /tmp/lab`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if epoch == 0 {
				return usagef("--to-epoch: missing: name the epoch to restore (regionctl route history lists them)")
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason: missing: say why (it is recorded with the new version)")
			}
			return g.call(cmd.Context(), func(c *client.Client) error {
				t, err := c.RollbackRoutes(cmd.Context(), api.RollbackRequest{ToEpoch: epoch, Reason: reason})
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(t)
				}
				fmt.Fprintf(g.out, "routing table epoch %d now has the placement of epoch %d\n", t.Epoch, epoch)
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&epoch, "to-epoch", 0, "the epoch whose placement to restore")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	return cmd
}
