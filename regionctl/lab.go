package regionctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/lab"
)

func newLabCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a local multi-region lab: real MariaDB, Kafka-protocol brokers, etcd and regiond",
		Long: `lab runs the whole platform on this machine, on 127.0.0.1 with free ports:
one MariaDB server, one Kafka-protocol broker and one regiond per region, and
one etcd. Everything it writes (data, logs, config, token, state) goes under
--dir. Processes keep running after the command returns; stop them with
'regionctl lab down --dir DIR'.`,
		Example: `  regionctl lab up --regions a,b --dir /tmp/lab
  regionctl lab status --dir /tmp/lab
  regionctl lab kill --dir /tmp/lab --region b --component regiond
  regionctl lab start --dir /tmp/lab --region b
  regionctl lab down --dir /tmp/lab`,
	}
	cmd.AddCommand(newLabUpCmd(g), newLabAddCmd(g), newLabDownCmd(g), newLabStatusCmd(g), newLabDemoCmd(g), newLabKillCmd(g), newLabStartCmd(g), newLabNetCmd(g), newLabServeCmd())
	return cmd
}

func requireDir(g *globals) error {
	if g.dir == "" {
		return usagef("--dir is required: the folder that holds (or will hold) the lab")
	}
	return nil
}

func newLabUpCmd(g *globals) *cobra.Command {
	var regions string
	var buckets, partitions int
	var wan bool
	cmd := &cobra.Command{
		Use:   "up --regions a,b[,c] --dir DIR [--wan]",
		Short: "Start a lab (or start a stopped one again, with its data)",
		Long: `up starts every server of the lab and returns when the lab is ready for
every command the docs show: every server answers its health check, every
regiond has loaded the routing table (GET /readyz), and the sample lending
schema (database lending: users, loan_accounts, ledger_entries, sharded by
user) is in every region, created in the first region and carried by
replication, so that route get, switch, verify and drill run work at once.
A folder with a stopped lab is started again with the same ports and data
(the schema is only created if it is missing); a folder with a running lab
is an error. Progress goes to stderr; the result (with --json, the
endpoints and operator token) to stdout.`,
		Example: `  regionctl lab up --regions a,b --dir /tmp/lab
  regionctl lab up --regions a,b,c --dir /tmp/lab3 --json | jq -r '.regions[0].api'

  # ready at once: a route, then a DR drill
  regionctl route get --user 1042 --dir /tmp/lab
  regionctl drill run --plan deploy/drills/monthly.yaml --dir /tmp/lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireDir(g); err != nil {
				return err
			}
			st, err := labUp(cmd.Context(), g, lab.Options{Regions: splitList(regions), Buckets: buckets, Partitions: partitions, WAN: wan, Sample: true})
			if err != nil {
				return err
			}
			return printLabInfo(g, st)
		},
	}
	cmd.Flags().StringVar(&regions, "regions", "", "comma-separated region names, at least two (e.g. a,b,c); default for a new lab: a,b")
	cmd.Flags().IntVar(&buckets, "buckets", 1024, "routing buckets")
	cmd.Flags().IntVar(&partitions, "partitions", 0, "partitions of each region's topic, which apply in parallel (default: one a core of this machine, 2 to 8)")
	cmd.Flags().BoolVar(&wan, "wan", false, "a new lab relays every cross-region connection through its wan component, so 'lab net' can inject network faults")
	return cmd
}

func newLabAddCmd(g *globals) *cobra.Command {
	var region string
	cmd := &cobra.Command{
		Use:   "add --region NAME --dir DIR",
		Short: "Give a running lab another region's servers and config, ready for regionctl region add",
		Long: `add does in the lab what an operator does before regionctl region add: it
starts the new region's MySQL (empty, read-only), its broker (with its
topic) and its app on new ports; adds the region and its cell (owning no
bucket, standby on the lab's first region) to the lab's config; and restarts
every other regiond and the witness on the new config, one at a time, so
that each region keeps serving (a regiond adds the new region and cell to
the routing table as it starts).

The new region's regiond is not started: fill its MySQL with regionctl region
add, then start it (lab start --component regiond; it runs with --join, so
that its controller node waits to be added as a voter). A lab made with N
regions can grow to 4 (its servers interleave auto-increment values by 4).`,
		Example: `  regionctl lab up --regions a,b --dir /tmp/lab
  regionctl lab add --region c --dir /tmp/lab
  regionctl region add c --donor a --reason "third centre" --dir /tmp/lab
  regionctl lab start --region c --component regiond --dir /tmp/lab
  regionctl verify --dir /tmp/lab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireDir(g); err != nil {
				return err
			}
			if region == "" {
				return usagef("--region is required: the name of the region to add (e.g. c)")
			}
			bin, err := lab.FindBinaries()
			if err != nil {
				return err
			}
			st, err := lab.AddRegion(cmd.Context(), lab.Options{Dir: g.dir, Bin: bin, Progress: g.progress()}, region)
			if err != nil {
				return err
			}
			if err := printLabInfo(g, st); err != nil || g.json {
				return err
			}
			fmt.Fprintf(g.out, "\nregion %s has servers and config; its regiond is not started. Next:\n  regionctl region add %s --donor %s --reason \"...\" --dir %s\n  regionctl lab start --region %s --component regiond --dir %s\n",
				region, region, st.Regions[0].Name, g.dir, region, g.dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "the new region's name (lower-case letters, digits, '-')")
	return cmd
}

func labUp(ctx context.Context, g *globals, opts lab.Options) (*lab.State, error) {
	bin, err := lab.FindBinaries()
	if err != nil {
		return nil, err
	}
	if len(opts.Regions) == 0 {
		if _, err := lab.LoadState(g.dir); errors.Is(err, lab.ErrNoLab) {
			opts.Regions = []string{"a", "b"}
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts.Dir, opts.Bin, opts.Progress = g.dir, bin, g.progress()
	return lab.Up(ctx, opts)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func printLabInfo(g *globals, st *lab.State) error {
	info, err := st.Info()
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(info)
	}
	tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "region\tmysql\tkafka\tapi\tgateway\tapp\n")
	for _, r := range info.Regions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.MySQL, strings.Join(r.Kafka, ","), r.API, r.Gateway, r.App)
	}
	tw.Flush()
	fmt.Fprintf(g.out, "etcd    %s\nconfig  %s\ntoken   %s (operator; viewer token in %s)\n",
		strings.Join(info.Etcd, ","), info.Config, filepath.Join(info.Dir, lab.TokenFile), filepath.Join(info.Dir, lab.ViewerTokenFile))
	fmt.Fprintf(g.out, "\nnext:   regionctl status --dir %s\nstop:   regionctl lab down --dir %s\n", info.Dir, info.Dir)
	return nil
}

func newLabDownCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down --dir DIR",
		Short: "Stop every process of a lab (data stays; 'lab up' starts it again)",
		Long: `down stops regiond, then MariaDB, the brokers and etcd (the reverse of start),
each with SIGTERM and, after 20 s, SIGKILL, and waits until every process is
gone. It only signals processes it started itself (checked by pid and start
time), so it is safe after a reboot.`,
		Example: `  regionctl lab down --dir /tmp/lab
  rm -rf /tmp/lab   # to throw the data away too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireDir(g); err != nil {
				return err
			}
			if err := lab.Down(cmd.Context(), g.dir, g.progress()); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"dir": g.dir, "stopped": true})
			}
			fmt.Fprintf(g.out, "lab in %s is down\n", g.dir)
			return nil
		},
	}
}

func newLabStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "status --dir DIR",
		Short:   "Say which of the lab's processes are up, unhealthy or down",
		Example: `  regionctl lab status --dir /tmp/lab --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireDir(g); err != nil {
				return err
			}
			cs, err := lab.Status(cmd.Context(), g.dir)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(cs)
			}
			tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "component\tregion\tpid\tport\tstate\n")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s %s\n", c.Component, c.Region, c.Pid, c.Port, c.State, c.Detail)
			}
			return tw.Flush()
		},
	}
}

// newLabServeCmd is how the lab runs etcd and brokers as processes of
// their own. It is hidden: people use `lab up`.
func newLabServeCmd() *cobra.Command {
	var data string
	var topics []string
	var port, clientPort, peerPort, partitions int
	cmd := &cobra.Command{Use: "serve", Hidden: true, Short: "Run one lab component in the foreground (used by lab up)"}
	etcd := &cobra.Command{
		Use:  "etcd",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			e, err := lab.StartEtcd(ctx, lab.EtcdConfig{Dir: data, ClientPort: clientPort, PeerPort: peerPort})
			if err != nil {
				return err
			}
			defer e.Close()
			fmt.Fprintf(cmd.ErrOrStderr(), "etcd serving on %s\n", e.ClientURL)
			select {
			case <-ctx.Done():
				return nil
			case err := <-e.Err():
				return err
			}
		},
	}
	etcd.Flags().StringVar(&data, "data", "", "data folder")
	etcd.Flags().IntVar(&clientPort, "client-port", 0, "client port")
	etcd.Flags().IntVar(&peerPort, "peer-port", 0, "peer port")
	broker := &cobra.Command{
		Use:  "broker",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			b, err := lab.StartBroker(lab.BrokerConfig{Dir: data, Port: port, Topics: topics, Partitions: partitions})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "broker serving on %s\n", b.Addr)
			<-ctx.Done()
			b.Close()
			return nil
		},
	}
	broker.Flags().StringVar(&data, "data", "", "data folder")
	broker.Flags().IntVar(&port, "port", 0, "port")
	broker.Flags().StringSliceVar(&topics, "topic", nil, "topic to create at the first start (repeatable)")
	broker.Flags().IntVar(&partitions, "partitions", 8, "partitions of each topic")
	for _, c := range []*cobra.Command{etcd, broker} {
		_ = c.MarkFlagRequired("data")
	}
	var region, configPath string
	var mysqlPort int
	app := &cobra.Command{
		Use:  "app",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "app of region %s serving on 127.0.0.1:%d\n", region, port)
			return lab.ServeApp(ctx, region, port, mysqlPort, configPath)
		},
	}
	app.Flags().StringVar(&region, "region", "", "the app's region")
	app.Flags().IntVar(&port, "port", 0, "port")
	app.Flags().IntVar(&mysqlPort, "mysql-port", 0, "the region's MariaDB port")
	app.Flags().StringVar(&configPath, "config", "", "the lab's deployment config (its etcd holds the routing table the app's guard follows)")
	var proxies string
	wan := &cobra.Command{
		Use:  "wan",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "wan serving its API on 127.0.0.1:%d\n", port)
			return lab.ServeWAN(ctx, port, proxies)
		},
	}
	wan.Flags().IntVar(&port, "port", 0, "toxiproxy API port")
	wan.Flags().StringVar(&proxies, "proxies", "", "the proxy list (JSON)")
	cmd.AddCommand(etcd, broker, app, wan)
	return cmd
}
