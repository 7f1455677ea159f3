package regionctl

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
)

// RegionStatus is one region's answer to `regionctl status`.
type RegionStatus = api.RegionStatus

// StatusReport is what `regionctl status --json` prints.
type StatusReport = api.Overview

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every region's daemon and the health of its MySQL, Kafka and etcd",
		Long: `status asks every region's regiond for its status, all at once, and prints
one block per region: its MySQL, Kafka and etcd, its capture (what it
published), and every inbound replication link with the applied position,
lag in seconds and transactions, and throughput. A halted link shows why.
The exit status is 1 when any region is unreachable or unhealthy, or any
capture or link is not running.`,
		Example: `  regionctl status --dir /tmp/lab
  regionctl status --config deploy.yaml --json | jq '.regions[].status.healthy'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := g.status(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				err = g.printJSON(rep)
			} else {
				printStatus(g, rep)
			}
			if err != nil {
				return err
			}
			if !rep.Healthy() {
				return reported(fmt.Errorf("not every region is healthy"))
			}
			return nil
		},
	}
}

func (g *globals) status(ctx context.Context) (*StatusReport, error) {
	cfg, err := g.deployment()
	if err != nil {
		return nil, err
	}
	c, err := g.client(cfg)
	if err != nil {
		return nil, err
	}
	return c.Overview(ctx, cfg), nil
}

func printStatus(g *globals, rep *StatusReport) {
	fmt.Fprintf(g.out, "deployment %s\n", rep.Deployment)
	for _, r := range rep.Regions {
		fmt.Fprintln(g.out)
		if r.Error != "" {
			fmt.Fprintf(g.out, "region %s  UNREACHABLE  %s\n  %s\n", r.Region, r.API, r.Error)
			continue
		}
		s := r.Status
		state := "healthy"
		if !s.Healthy {
			state = "UNHEALTHY"
		}
		fmt.Fprintf(g.out, "region %s  %s  %s  regiond %s, up %s\n", r.Region, state, r.API, s.Version,
			(time.Duration(s.Uptime) * time.Second).String())
		tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
		for _, c := range s.Checks {
			res := "ok"
			if !c.OK {
				res = "FAIL " + c.Error
			}
			fmt.Fprintf(tw, "  %s\t%s\t%.1f ms\n", c.Name, res, c.LatencyMS)
		}
		tw.Flush()
		var cells []string
		for _, c := range s.Cells {
			if c.Region == r.Region {
				cells = append(cells, fmt.Sprintf("%s (standby %s)", c.Name, c.Standby))
			}
		}
		if len(cells) > 0 {
			fmt.Fprintf(g.out, "  home of cells: %s\n", strings.Join(cells, ", "))
		}
		c := s.Capture
		capState := "running"
		if !c.Running {
			capState = "STOPPED " + c.Error
		}
		fmt.Fprintf(g.out, "  capture   %s: published %d txns (seq %d, gtid %s), skipped %d applied by others\n",
			capState, c.Txns, c.Published.Seq, c.Published.Pos, c.Echoes)
		for _, l := range s.Links {
			state := l.State
			if l.State != "running" {
				state = strings.ToUpper(l.State)
			}
			fmt.Fprintf(g.out, "  link %s->%s %s: applied seq %d of %d, lag %.2fs / %d txns, %.0f txn/s, gtid %s\n",
				l.From, l.To, state, l.AppliedSeq, l.PublishedSeq, l.LagSeconds, l.LagTxns, l.Throughput, l.AppliedGTID)
			if l.Error != "" {
				fmt.Fprintf(g.out, "    %s\n", l.Error)
			}
			if l.State == "halted" {
				fmt.Fprintf(g.out, "    fix the cause, then: regionctl link retry '%s->%s' (or skip the message: regionctl link skip --help)\n", l.From, l.To)
			}
			if l.Quarantined > 0 {
				fmt.Fprintf(g.out, "    %d skipped message(s) in quarantine, unresolved: regionctl link show '%s->%s'\n", l.Quarantined, l.From, l.To)
			}
		}
	}
}
