package regionctl

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/lab"
)

func newLabNetCmd(g *globals) *cobra.Command {
	var (
		from, to, kinds  string
		latency, jitter  time.Duration
		bandwidth        int
		partition, reset bool
		heal, both, isol bool
	)
	cmd := &cobra.Command{
		Use:   "net --dir DIR --from a --to b (--latency D [--jitter D] | --bandwidth KBPS | --partition | --reset | --heal) [--both-ways] [--kinds mysql,kafka,api,raft,gossip]",
		Short: "Inject network faults between the regions of a lab started with --wan",
		Long: `net changes the network between two nodes of a lab started with 'lab up --wan'
(a region's name, or witness). A path is directed: --from's connections to
--to's servers; --both-ways does the reverse path too. --kinds narrows it to
some kinds of connection (default: all). Faults stay until --heal (with
--from and --to, or alone with --all); a new fault of the same type replaces
the old one.

  --latency D     every byte is delayed by D (±--jitter) in each direction
  --bandwidth N   N kilobytes per second in each direction
  --partition     nothing gets through (blackhole), gossip included
  --reset         connections are reset as soon as they carry data
  --isolate       --from's regiond (or the witness) is cut off from every
                  other node, both ways; its region's MySQL and Kafka stay
                  reachable (a lost observer, not a lost region)`,
		Example: `  regionctl lab net --dir /tmp/lab --from b --to a --latency 100ms --kinds kafka
  regionctl lab net --dir /tmp/lab --from c --isolate
  regionctl lab net --dir /tmp/lab --from a --to b --partition --both-ways
  regionctl lab net --dir /tmp/lab --heal --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireDir(g); err != nil {
				return err
			}
			w, err := lab.OpenWAN(g.dir)
			if err != nil {
				return err
			}
			all, _ := cmd.Flags().GetBool("all")
			if heal && all {
				if err := w.HealAll(); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"healed": "all"})
				}
				fmt.Fprintln(g.out, "healed every path")
				return nil
			}
			if isol {
				if from == "" {
					return usagef("--isolate needs --from: the node to cut off")
				}
				if err := w.Isolate(from); err != nil {
					return err
				}
				if g.json {
					return g.printJSON(map[string]any{"isolated": from})
				}
				fmt.Fprintf(g.out, "%s isolated from every other node\n", from)
				return nil
			}
			if from == "" || to == "" {
				return usagef("--from and --to are required: the nodes (regions or witness) whose path to change")
			}
			ks := splitList(kinds)
			var what string
			var apply func(from, to string) error
			n := 0
			for _, on := range []bool{latency > 0, bandwidth > 0, partition, reset, heal} {
				if on {
					n++
				}
			}
			if n != 1 {
				return usagef("give exactly one of --latency, --bandwidth, --partition, --reset, --heal")
			}
			switch {
			case latency > 0:
				what, apply = fmt.Sprintf("latency %s ±%s", latency, jitter), func(f, t string) error { return w.Latency(f, t, latency, jitter, ks...) }
			case bandwidth > 0:
				what, apply = fmt.Sprintf("bandwidth %d KB/s", bandwidth), func(f, t string) error { return w.Bandwidth(f, t, bandwidth, ks...) }
			case partition:
				what, apply = "partitioned", func(f, t string) error { return w.Partition(f, t, ks...) }
			case reset:
				what, apply = "resetting connections", func(f, t string) error { return w.Reset(f, t, ks...) }
			default:
				what, apply = "healed", func(f, t string) error { return w.Heal(f, t, ks...) }
			}
			type change struct {
				From string `json:"from"`
				To   string `json:"to"`
				What string `json:"what"`
			}
			paths := []change{{from, to, what}}
			if both {
				paths = append(paths, change{to, from, what})
			}
			for _, p := range paths {
				if err := apply(p.From, p.To); err != nil {
					return err
				}
				if !g.json {
					fmt.Fprintf(g.out, "%s -> %s: %s\n", p.From, p.To, p.What)
				}
			}
			if g.json {
				return g.printJSON(map[string]any{"changed": paths})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the node whose connections are changed (a region, or witness)")
	f.StringVar(&to, "to", "", "the node they go to")
	f.StringVar(&kinds, "kinds", "", "comma-separated kinds of connection: mysql, kafka, api, raft, gossip (default all)")
	f.DurationVar(&latency, "latency", 0, "added delay in each direction, e.g. 100ms")
	f.DurationVar(&jitter, "jitter", 0, "random variation of --latency")
	f.IntVar(&bandwidth, "bandwidth", 0, "rate limit in KB/s in each direction")
	f.BoolVar(&partition, "partition", false, "cut the path: nothing gets through")
	f.BoolVar(&reset, "reset", false, "reset connections on the path")
	f.BoolVar(&heal, "heal", false, "remove every fault from the path (with --all: from every path)")
	f.Bool("all", false, "with --heal: every path of the lab")
	f.BoolVar(&both, "both-ways", false, "also change the reverse path")
	f.BoolVar(&isol, "isolate", false, "cut --from's regiond (or the witness) off from every other node, both ways")
	return cmd
}
