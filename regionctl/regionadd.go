package regionctl

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/verify"
)

// AddReport is what regionctl region add --json prints.
type AddReport struct {
	RebuildReport
	// Voter is the region's controller node, added as a Raft voter ("" when
	// the deployment runs no controller).
	Voter string `json:"voter,omitempty"`
	// Joined says the region's regiond answered and its links caught up
	// within --wait; Verify is the comparison of every table after that.
	Joined bool           `json:"joined"`
	Verify *verify.Result `json:"verify,omitempty"`
}

func newRegionAddCmd(g *globals) *cobra.Command {
	var (
		cf   copyFlags
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "add NAME --donor REGION --reason TEXT",
		Short: "Bring a new region into a running deployment: copy every table from a donor, make it a controller voter, verify",
		Long: `add brings a region that was never part of the deployment into it while every
other region takes writes. Before it runs (docs/regions.md, "How to add a
region"):

  - the region is in the deployment config of every regiond, with its cell
    (regions: and cells:), and every other regiond was restarted on that
    config, one at a time: they then follow its stream and the routing table
    holds its cell, owning no bucket (in a lab: regionctl lab add);
  - its MySQL runs, with the binlog settings regionctl preflight checks, and
    its Kafka topic exists (regionctl kafka init);
  - its regiond is not started yet.

What it does:

  1. checks the above, naming what is missing;
  2. copies every replicated table from the donor, each in a consistent
     snapshot with the positions it reflects (as region rebuild does), paced
     by the donor's load, with progress (rows, rate, ETA) on stderr;
  3. adds the region's controller node as a Raft voter;
  4. waits up to --wait for you to start the region's regiond with --join
     (regiond --config FILE --region NAME --join; in a lab: regionctl lab
     start --region NAME --component regiond) and for its links to catch up,
     then compares every table in every region (regionctl verify).

Interrupted (^C, a crash of any process), the same command goes on: tables
copied stay, the table being copied is copied again. The region's cells own
no bucket afterwards: give them users with regionctl switch.

Exit status: 0 added and identical, 3 a table differs, 1 it could not (the
error says what to do), 2 a wrong command line.`,
		Example: `  regionctl lab add --region c --dir /tmp/lab
  regionctl region add c --donor a --reason "third centre" --wait 0 --dir /tmp/lab
  regionctl lab start --region c --component regiond --dir /tmp/lab
  regionctl verify --dir /tmp/lab`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			target := args[0]
			if _, ok := cfg.Region(target); !ok {
				return usagef("region %q is not in the deployment config (it has %s): add it and its cell to the config of every regiond and restart them one at a time (in a lab: regionctl lab add --region %s)", target, strings.Join(cfg.RegionNames(), ", "), target)
			}
			if err := cf.validate(cfg, target); err != nil {
				return err
			}
			if wait < 0 {
				return usagef("--wait must be 0 (do not wait for the region's regiond) or more")
			}
			return g.addRegion(cmd.Context(), cfg, target, cf, wait)
		},
	}
	f := cmd.Flags()
	cf.flags(f)
	f.DurationVar(&wait, "wait", 15*time.Minute, "after the copy, how long to wait for the region's regiond to start and catch up before verifying (0: return after the copy)")
	return cmd
}

func (g *globals) addRegion(ctx context.Context, cfg *config.Config, target string, cf copyFlags, wait time.Duration) error {
	if err := g.addPreconditions(ctx, cfg, target); err != nil {
		return err
	}
	if err := g.rebuildPreconditions(ctx, cfg, target); err != nil {
		return err
	}
	rb, err := g.rebuild(ctx, cfg, target, cf, true)
	if err != nil {
		return err
	}
	rep := AddReport{RebuildReport: *rb}
	if r, _ := cfg.Region(target); r.Controller.Raft != "" {
		rep.Voter = target
	}
	if wait > 0 {
		if err := g.waitJoined(ctx, cfg, target, wait); err != nil {
			return err
		}
		rep.Joined = true
		if rep.Verify, err = g.compareTables(ctx, cfg, tableNames(rb)); err != nil {
			return err
		}
	}
	if g.json {
		if err := g.printJSON(rep); err != nil {
			return err
		}
	}
	switch {
	case rep.Verify != nil && !rep.Verify.Equal():
		return outcome(fmt.Errorf("region %s differs from the others after the add: %s", target, strings.Join(rep.Verify.Differences(5), "; ")), ExitDiffers)
	case g.json:
	case rep.Verify != nil:
		fmt.Fprintf(g.out, "region %s added: its links caught up and its %d tables are identical in every region. Its cells own no bucket: move users there with regionctl switch.\n", target, len(rb.Tables))
	default:
		fmt.Fprintf(g.out, "Now start region %s's regiond with --join (in a lab: regionctl lab start --region %s --component regiond), then check with regionctl status and regionctl verify.\n", target, target)
	}
	return nil
}

// addPreconditions checks that the deployment is ready for target:
// every other regiond runs a config that has it (its links from target
// exist) and the routing table holds its region.
func (g *globals) addPreconditions(ctx context.Context, cfg *config.Config, target string) error {
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	for _, r := range cfg.Regions {
		if r.Name == target {
			continue
		}
		st, err := c.At(r.URL).Status(ctx)
		if err != nil {
			return fmt.Errorf("regiond of region %s does not answer (%w): every other region's regiond must run, on a config that has region %s", r.Name, err, target)
		}
		if !slices.ContainsFunc(st.Links, func(l apply.LinkStatus) bool { return l.From == target }) {
			return fmt.Errorf("regiond of region %s has no link from region %s: it runs an older config. Give it the config with region %s and restart it (one region at a time), then run this again", r.Name, target, target)
		}
	}
	var inTable bool
	if err := g.call(ctx, func(c *client.Client) error {
		a, err := c.Routes(ctx)
		if err == nil && a.Table != nil {
			_, inTable = a.Table.Region(target)
		}
		return err
	}); err != nil {
		return fmt.Errorf("read the routing table: %w", err)
	}
	if !inTable {
		return fmt.Errorf("the routing table has no region %s yet: a regiond adds it as it starts on a config that has it; restart one", target)
	}
	return nil
}

// joinController adds target's controller node as a Raft voter (nothing
// when the deployment runs no controller).
func (g *globals) joinController(ctx context.Context, cfg *config.Config, target string) error {
	r, _ := cfg.Region(target)
	if r.Controller.Raft == "" {
		return nil
	}
	by, err := g.changeVoter(ctx, cfg, target, r.Controller.Raft)
	if err != nil {
		return fmt.Errorf("add region %s's controller node as a voter (its tables are copied; run the same command again, or regionctl controller add-voter %s %s): %w", target, target, r.Controller.Raft, err)
	}
	fmt.Fprintf(g.progress(), "region %s's controller node is a voter (added by %s's node)\n", target, by)
	return nil
}

// waitJoined waits until target's regiond answers and every link into it
// runs and has applied what its source had published then.
func (g *globals) waitJoined(ctx context.Context, cfg *config.Config, target string, wait time.Duration) error {
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	r, _ := cfg.Region(target)
	tc := c.At(r.URL)
	deadline := time.Now().Add(wait)
	fmt.Fprintf(g.progress(), "waiting up to %s for region %s's regiond: start it with --join (regiond --config FILE --region %s --join; in a lab: regionctl lab start --region %s --component regiond)\n", wait, target, target, target)
	for said := false; ; {
		st, err := tc.Status(ctx)
		if err == nil && len(st.Links) == len(cfg.Regions)-1 {
			break
		}
		if err == nil && !said {
			fmt.Fprintf(g.progress(), "region %s's regiond answers; waiting for its links to start\n", target)
			said = true
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("region %s's regiond has not started its links within --wait %s (its tables are copied: start it with --join, then run regionctl verify)", target, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Fprintf(g.progress(), "region %s's links run: waiting for them to catch up\n", target)
	return waitLinksCaughtUp(ctx, tc, target, time.Until(deadline))
}

// tableNames are the tables a rebuild copied.
func tableNames(rep *RebuildReport) []string {
	var out []string
	for _, t := range rep.Tables {
		out = append(out, t.Table)
	}
	return out
}

// compareTables compares tables in every region, as regionctl verify.
func (g *globals) compareTables(ctx context.Context, cfg *config.Config, tables []string) (*verify.Result, error) {
	var regions []verify.Region
	for _, r := range cfg.Regions {
		db, err := dial.MySQL(cfg, r.Name)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		regions = append(regions, verify.Region{Name: r.Name, DB: db})
	}
	vc := verify.DefaultConfig()
	vc.Log = slog.New(slog.NewTextHandler(g.progress(), nil))
	return verify.Compare(ctx, vc, regions, tables)
}
