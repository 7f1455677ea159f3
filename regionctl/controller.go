package regionctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/spf13/cobra"
)

func newControllerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "The failover controller: its Raft voters, leader and what gossip sees of every region",
		Long: `The failover controller is a Raft cluster of one node per regiond plus the
witness (regiond --witness), so two regions keep a majority when one is
down. Only its leader acts; every decision is a Raft log entry first.
Liveness comes from gossip among all nodes: a region is declared failed
only when a majority of the other observers have lost it for
controller.fail_after and cannot reach its MySQL either.`,
		Example: `  regionctl controller status --dir /tmp/lab
  regionctl controller add-voter c 10.0.3.5:7300 --dir /tmp/lab
  regionctl controller remove-voter c --dir /tmp/lab`,
	}
	cmd.AddCommand(newControllerStatusCmd(g), newControllerVoterCmd(g, true), newControllerVoterCmd(g, false))
	return cmd
}

func newControllerStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the leader, the voters, the gossip members and each region's liveness",
		Example: `  regionctl controller status --dir /tmp/lab --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd.Context(), func(c *client.Client) error {
				st, err := c.Controller(cmd.Context())
				if err != nil {
					return err
				}
				if g.json {
					return g.printJSON(st)
				}
				n := st.Node
				leader := n.LeaderID
				if leader == "" {
					leader = "NONE (no majority?)"
				}
				fmt.Fprintf(g.out, "controller leader: %s   (asked node %s, %s, term %d, applied index %d)\n", leader, n.ID, n.State, n.Term, n.AppliedIndex)
				tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VOTER\tRAFT ADDRESS\tGOSSIP")
				seen := map[string]string{}
				for _, m := range st.Members {
					seen[m.Name] = "alive"
				}
				for _, v := range n.Voters {
					g := seen[v.ID]
					if g == "" {
						g = "NOT SEEN"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", v.ID, v.Addr, g)
				}
				tw.Flush()
				for _, r := range st.Regions {
					state := "alive"
					switch {
					case r.Failed:
						state = fmt.Sprintf("FAILED since %s", r.FailedAt.Format("15:04:05Z"))
					case len(r.Lost) > 0:
						state = fmt.Sprintf("lost by %s of %d observers", strings.Join(r.Lost, ","), r.Of)
					}
					fmt.Fprintf(g.out, "region %s: %s\n", r.Region, state)
				}
				if st.State != nil {
					for name, r := range st.State.Regions {
						if r.Fenced {
							fmt.Fprintf(g.out, "region %s is FENCED by the controller: %s\n", name, r.FenceReason)
						}
					}
				}
				return nil
			})
		},
	}
}

// newControllerVoterCmd is add-voter (add) or remove-voter.
func newControllerVoterCmd(g *globals, add bool) *cobra.Command {
	use, short, args := "remove-voter ID", "Remove a voter from the controller's Raft cluster", cobra.ExactArgs(1)
	example := "  regionctl controller remove-voter c --dir /tmp/lab"
	if add {
		use, short, args = "add-voter ID RAFT-ADDRESS", "Add a voter (a new region's node, or a witness) to the controller", cobra.ExactArgs(2)
		example = "  regionctl controller add-voter c 10.0.3.5:7300 --dir /tmp/lab"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    args,
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			id, addr := a[0], ""
			if add {
				addr = a[1]
			}
			by, err := g.changeVoter(cmd.Context(), cfg, id, addr)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]string{"action": strings.Fields(use)[0], "voter": id, "by_region": by})
			}
			fmt.Fprintf(g.out, "%s: done by region %s's node\n", strings.Fields(use)[0], by)
			return nil
		},
	}
}

// changeVoter adds voter id at Raft address addr to the controller, or
// removes it when addr is empty, through the leader: it asks every
// regiond until the leader's answers, and returns the leader's region.
func (g *globals) changeVoter(ctx context.Context, cfg *config.Config, id, addr string) (string, error) {
	c, err := g.client(cfg)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, r := range cfg.Regions {
		var err error
		if addr != "" {
			err = c.At(r.URL).AddVoter(ctx, api.VoterRequest{ID: id, Addr: addr})
		} else {
			err = c.At(r.URL).RemoveVoter(ctx, id)
		}
		if err == nil {
			return r.Name, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
	}
	return "", fmt.Errorf("no regiond could change the controller's voters (the leader may be the witness, which has no API: retry in a moment): %w", errors.Join(errs...))
}
