package regionctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/lab"
)

func newLabKillCmd(g *globals) *cobra.Command {
	var region, component string
	cmd := &cobra.Command{
		Use:   "kill --dir DIR --region NAME [--component mysql|broker|regiond|all]",
		Short: "Crash a component of a lab region with SIGKILL, to test what survives",
		Long: `kill sends SIGKILL to a region's MariaDB, broker or regiond (or all three),
the way a crash would: nothing gets to flush or say goodbye. The data stays;
'lab start' brings the component back with the same ports and data.`,
		Example: `  regionctl lab kill --dir /tmp/lab --region a --component regiond
  regionctl lab kill --dir /tmp/lab --region b            # everything of region b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireRegion(g, region); err != nil {
				return err
			}
			if err := lab.Kill(cmd.Context(), g.dir, region, component); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]string{"dir": g.dir, "region": region, "component": component, "state": "killed"})
			}
			fmt.Fprintf(g.out, "killed %s of region %s\n", component, region)
			return nil
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "region name")
	cmd.Flags().StringVar(&component, "component", "all", "one of "+strings.Join(lab.Components, ", ")+", or all; or the lab's etcd or witness (any --region)")
	return cmd
}

func newLabStartCmd(g *globals) *cobra.Command {
	var region, component string
	cmd := &cobra.Command{
		Use:   "start --dir DIR --region NAME [--component mysql|broker|regiond|all]",
		Short: "Start killed components of a lab region again, with their ports and data",
		Example: `  regionctl lab start --dir /tmp/lab --region a --component regiond
  regionctl lab start --dir /tmp/lab --region b            # whatever of region b is down`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireRegion(g, region); err != nil {
				return err
			}
			bin, err := lab.FindBinaries()
			if err != nil {
				return err
			}
			if err := lab.Start(cmd.Context(), lab.Options{Dir: g.dir, Bin: bin, Progress: g.progress()}, region, component); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]string{"dir": g.dir, "region": region, "component": component, "state": "started"})
			}
			fmt.Fprintf(g.out, "started %s of region %s\n", component, region)
			return nil
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "region name")
	cmd.Flags().StringVar(&component, "component", "all", "one of "+strings.Join(lab.Components, ", ")+", or all; or the lab's etcd or witness (any --region)")
	return cmd
}

func requireRegion(g *globals, region string) error {
	if err := requireDir(g); err != nil {
		return err
	}
	if region == "" {
		return usagef("--region is required: the region whose component to kill or start")
	}
	return nil
}
