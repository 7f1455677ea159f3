package regionctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/verify"
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
		if ro, ok := strings.CutPrefix(s.MySQLReadOnly, "on: "); ok {
			fmt.Fprintf(g.out, "  mysql     READ-ONLY for the application: %s\n", ro)
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
			if l.State != apply.StateRunning {
				state = strings.ToUpper(l.State)
			}
			fmt.Fprintf(g.out, "  link %s->%s %s: applied seq %d of %d, lag %.2fs / %d txns, %.0f txn/s, gtid %s\n",
				l.From, l.To, state, l.AppliedSeq, l.PublishedSeq, l.LagSeconds, l.LagTxns, l.Throughput, l.AppliedGTID)
			if l.Error != "" {
				fmt.Fprintf(g.out, "    %s\n", l.Error)
			}
			if l.State == apply.StateHalted {
				fmt.Fprintf(g.out, "    fix the cause, then: regionctl link retry '%s->%s' (or skip the message: regionctl link skip --help)\n", l.From, l.To)
			}
			if l.Quarantined > 0 {
				fmt.Fprintf(g.out, "    %d skipped message(s) in quarantine, unresolved: regionctl link show '%s->%s'\n", l.Quarantined, l.From, l.To)
			}
			if l.Violations > 0 {
				fmt.Fprintf(g.out, "    %d write(s) by %s of buckets it did not own (no guard, or a stale one): SELECT * FROM _region.violations in %s\n", l.Violations, l.From, l.To)
			}
		}
	}
	printVerification(g, rep)
}

// printVerification prints the newest continuous verification pass any
// region reports.
func printVerification(g *globals, rep *StatusReport) {
	var p *verify.Pass
	for _, r := range rep.Regions {
		if r.Status != nil && r.Status.Verify != nil && (p == nil || r.Status.Verify.Finished.After(p.Finished)) {
			p = r.Status.Verify
		}
	}
	fmt.Fprintln(g.out)
	if p == nil {
		fmt.Fprintln(g.out, "verification  no continuous verification pass yet (the controller's leader runs one every replication.verify_every)")
		return
	}
	ago := time.Since(p.Finished).Round(time.Second)
	if p.Equal() {
		fmt.Fprintf(g.out, "verification  last pass %s ago: %d tables, %d rows identical in every region\n", ago, p.Tables, p.Rows)
		return
	}
	fmt.Fprintf(g.out, "verification  DRIFT in the pass %s ago: %d row(s) differ after re-checks for lag, %d table(s) not compared\n", ago, p.DifferingRows, len(p.Errors))
	tables := map[string]bool{}
	for _, d := range p.Diffs {
		what := fmt.Sprintf("%s in %s (compared with %s)", d.Kind, d.Region, p.Reference)
		if len(d.Columns) > 0 {
			what += " (" + strings.Join(d.Columns, ", ") + ")"
		}
		fmt.Fprintf(g.out, "  %s %s: %s\n", d.Table, d.Key, what)
		tables[d.Table] = true
	}
	if len(p.Diffs) < p.DifferingRows {
		fmt.Fprintf(g.out, "  ... and %d more\n", p.DifferingRows-len(p.Diffs))
	}
	for _, e := range p.Errors {
		fmt.Fprintf(g.out, "  not compared: %s\n", e)
	}
	if len(tables) > 0 {
		names := make([]string, 0, len(tables))
		for t := range tables {
			names = append(names, t)
		}
		sort.Strings(names)
		fmt.Fprintf(g.out, "  compare and repair: regionctl verify --tables %s --repair\n", strings.Join(names, ","))
	}
}
