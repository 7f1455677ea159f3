package regionctl

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

// RebuildReport is what regionctl region rebuild --json prints.
type RebuildReport struct {
	// ID is the rebuild's record in the controller (regionctl region history).
	ID      string             `json:"id"`
	Region  string             `json:"region"`
	Donor   string             `json:"donor"`
	Resumed bool               `json:"resumed"`
	Kept    []seed.Kept        `json:"kept"`
	Tables  []seed.TableResult `json:"tables"`
	Seconds float64            `json:"seconds"`
}

func newRegionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "region",
		Short: "Add a region to a running deployment, or rebuild one's data, from another region",
		Long: `region rebuild copies every replicated table into a region from a donor
region, online: the donor keeps taking writes, and so does every other region.
Each table is copied in a consistent snapshot of the donor, and the region
records with it what that snapshot holds (the donor's GTID position, and how
far the donor had applied every other region's stream). When the region's
regiond starts again, its links start from those positions and skip what each
copy already holds: nothing is applied twice, nothing is missed.

region add does the same for a region that was never part of the deployment,
and adds its controller node as a Raft voter (docs/regions.md).`,
		Example: `  regionctl region add c --donor a --reason "third centre" --dir /tmp/lab
  regionctl region rebuild b --donor a --reason "disk replaced" --dir /tmp/lab
  regionctl region history --dir /tmp/lab`,
	}
	cmd.AddCommand(newRegionAddCmd(g), newRegionRebuildCmd(g), newRegionHistoryCmd(g))
	return cmd
}

func newRegionRebuildCmd(g *globals) *cobra.Command {
	var cf copyFlags
	cmd := &cobra.Command{
		Use:   "rebuild NAME --donor REGION --reason TEXT",
		Short: "Copy every replicated table into a region from a donor region, online, and restart its links from the copy",
		Long: `rebuild is for a region whose data is lost or cannot be trusted (after a
forced failover, a restore gone wrong, a disk replaced). Before it runs:

  - the region owns no buckets (fail it over first: regionctl failover --force
    NAME, or move its buckets with regionctl switch): nobody writes there;
  - the region's regiond is stopped (systemctl stop regiond; in a lab,
    regionctl lab kill --region NAME --component regiond): its links must not
    apply while its tables are replaced. Its MySQL runs.

What it does, in the region's MySQL, none of it reaching the binlog:

  1. keeps every replicated table aside, renamed into _region (listed in
     _region.kept_tables): rows the region wrote that no other region has
     (a forced failover's RPO) stay there for you to inspect;
  2. clears the region's link checkpoints;
  3. copies every replicated table from the donor, each in a consistent
     snapshot, paced by the donor's load (--max-threads-running), with
     progress (rows, rate, ETA) on stderr.

Then start the region's regiond: its links start from the copies' positions
and catch up; check with regionctl status and regionctl verify, and fail
back when you are ready. Interrupted (^C, a crash of any process), the same
command goes on: tables copied stay, the table being copied is copied again.

Exit status: 0 copied, 1 it could not (nothing half-done is left unsaid: the
error names the table), 2 a wrong command line.`,
		Example: `  # region b lost its data; a is healthy
  regionctl lab kill --region b --component regiond --dir /tmp/lab
  regionctl region rebuild b --donor a --reason "disk replaced" --dir /tmp/lab
  regionctl lab start --region b --component regiond --dir /tmp/lab
  regionctl verify --dir /tmp/lab`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			target := args[0]
			if _, ok := cfg.Region(target); !ok {
				return usagef("region %q: the deployment's regions are %s", target, strings.Join(cfg.RegionNames(), ", "))
			}
			if err := cf.validate(cfg, target); err != nil {
				return err
			}
			if err := g.rebuildPreconditions(cmd.Context(), cfg, target); err != nil {
				return err
			}
			_, err = g.rebuild(cmd.Context(), cfg, target, cf, false)
			return err
		},
	}
	cf.flags(cmd.Flags())
	return cmd
}

// copyFlags are the flags of a copy of every table into a region
// (region add, region rebuild).
type copyFlags struct {
	donor, reason string
	batch         int
	pc            pace
}

func (cf *copyFlags) flags(f *pflag.FlagSet) {
	f.StringVar(&cf.donor, "donor", "", "the region to copy from (required)")
	f.StringVar(&cf.reason, "reason", "", "why: recorded in the controller and with the tables kept aside (required)")
	f.IntVar(&cf.batch, "batch", 500, "rows per INSERT into the region")
	cf.pc.flags(f)
}

// validate checks the flags for a copy into target.
func (cf copyFlags) validate(cfg *config.Config, target string) error {
	if _, ok := cfg.Region(cf.donor); !ok || cf.donor == target {
		return usagef("--donor %q: give another region of the deployment (%s) to copy from", cf.donor, strings.Join(cfg.RegionNames(), ", "))
	}
	if strings.TrimSpace(cf.reason) == "" {
		return usagef("--reason is required: it is recorded in the controller and with the tables kept aside")
	}
	if cf.batch < 1 {
		return usagef("--batch must be 1 or more")
	}
	return cf.pc.validate()
}

// rebuild fills region target from donor (seed.Rebuild), recorded in
// the controller, and prints what it copied. With add, the region is
// one regionctl region add brings into the deployment: its controller
// node is added as a voter once the copy is done. The caller checks the
// preconditions (rebuildPreconditions).
func (g *globals) rebuild(ctx context.Context, cfg *config.Config, target string, cf copyFlags, add bool) (*RebuildReport, error) {
	start := time.Now()
	donor, reason := cf.donor, cf.reason
	dDB, err := dial.MySQL(cfg, donor)
	if err != nil {
		return nil, err
	}
	defer dDB.Close()
	tDB, err := dial.MySQL(cfg, target)
	if err != nil {
		return nil, err
	}
	defer tDB.Close()
	tables, err := verify.ReplicatedTables(ctx, []verify.Region{{Name: donor, DB: dDB}}, cfg.Replication)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("donor %s holds no replicated table: check replication.databases", donor)
	}
	rep := RebuildReport{Region: target, Donor: donor, Kept: []seed.Kept{}}
	if rep.Resumed, err = seed.Resuming(ctx, tDB); err != nil {
		return nil, err
	}
	// Recorded in the controller (and regiond's audit log) before anything
	// changes, and again at the end, done or failed.
	prefix, next := "rb-", "start the region's regiond: its links start from the copies' positions"
	if add {
		prefix, next = "add-", "start the region's regiond with --join: its links start from the copies' positions"
	}
	rec := controller.RebuildRecord{ID: prefix + target + "-" + start.UTC().Format("20060102t150405.000"), Region: target, Donor: donor,
		Reason: reason, State: controller.RebuildRunning, StartedAt: start.UTC(), Resumed: rep.Resumed, Add: add}
	if err := g.startRecord(ctx, rec); err != nil {
		return nil, fmt.Errorf("record the rebuild in the controller (nothing was changed): %w", err)
	}
	rep.ID = rec.ID
	end := func(state, detail string) {
		rec.State, rec.EndedAt, rec.Detail = state, time.Now().UTC(), detail
		for _, k := range rep.Kept {
			rec.Kept = append(rec.Kept, k.Table+" as "+k.KeptAs)
		}
		for _, t := range rep.Tables {
			rec.Tables, rec.Rows = rec.Tables+1, rec.Rows+t.Rows
		}
		g.endRecord(ctx, rec)
	}
	if err := g.fillRegion(ctx, cfg, &rep, dDB, tDB, tables, reason, cf.batch, cf.pc); err != nil {
		end(controller.RebuildFailed, err.Error())
		return nil, err
	}
	if add {
		if err := g.joinController(ctx, cfg, target); err != nil {
			end(controller.RebuildFailed, err.Error())
			return nil, err
		}
	}
	end(controller.RebuildDone, next)
	rep.Seconds = time.Since(start).Seconds()
	if g.json {
		if add { // region add prints its own report
			return &rep, nil
		}
		return &rep, g.printJSON(rep)
	}
	tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tCOPIED AT (DONOR GTID)\t")
	for _, t := range rep.Tables {
		how := t.Positions.GTID
		if t.Earlier {
			how += " (copied by an earlier run)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", t.Table, t.Rows, how)
	}
	tw.Flush()
	if add {
		fmt.Fprintf(g.out, "region %s filled from %s in %s (recorded as %s); its controller node is a voter.\n", target, donor, time.Since(start).Round(time.Millisecond), rec.ID)
		return &rep, nil
	}
	fmt.Fprintf(g.out, "region %s rebuilt from %s in %s (recorded as %s). Now start its regiond: its links start from these positions; then check with regionctl status and regionctl verify.\n",
		target, donor, time.Since(start).Round(time.Millisecond), rec.ID)
	return &rep, nil
}

// startRecord records a rebuild's or seed's start in the controller
// (and regiond's audit log). An earlier run of the same (region and
// table) whose process died never recorded its end: it ends now, as
// interrupted.
func (g *globals) startRecord(ctx context.Context, rec controller.RebuildRecord) error {
	return g.call(ctx, func(c *client.Client) error {
		v, err := c.Rebuilds(ctx)
		if err != nil {
			return err
		}
		for _, old := range v.Rebuilds {
			if old.Region == rec.Region && old.Table == rec.Table && old.State == controller.RebuildRunning {
				old.State, old.EndedAt, old.Detail = controller.RebuildFailed, rec.StartedAt, "interrupted (its process ended without recording its end); "+rec.ID+" went on"
				if err := c.RecordRebuild(ctx, old); err != nil {
					return err
				}
			}
		}
		return c.RecordRebuild(ctx, rec)
	})
}

// fillRegion keeps the target's tables aside (unless an interrupted
// rebuild is resumed) and copies every table from the donor.
func (g *globals) fillRegion(ctx context.Context, cfg *config.Config, rep *RebuildReport, dDB, tDB *sql.DB, tables []string, reason string, batch int, pc pace) error {
	if rep.Resumed {
		fmt.Fprintf(g.progress(), "region %s holds an interrupted copy: going on with it (tables copied stay)\n", rep.Region)
	}
	sc := seed.DefaultConfig()
	r, _ := cfg.Region(rep.Donor)
	sc.Donor, sc.DonorDB, sc.Flavor, sc.Target, sc.TargetDB, sc.Tables, sc.Batch = rep.Donor, dDB, r.MySQL.Flavor, rep.Region, tDB, tables, batch
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	sc.Throttle = pc.throttle(dDB, c.At(r.URL).Status, g.progress())
	sc.Progress = progressPrinter(g.progress())
	res, err := seed.Rebuild(ctx, sc, reason, func(k seed.Kept) { fmt.Fprintf(g.progress(), "kept %s aside as %s\n", k.Table, k.KeptAs) })
	rep.Kept = append(rep.Kept, res.Kept...)
	rep.Tables = res.Tables
	if err != nil {
		return fmt.Errorf("%w (run the same command again to go on)", err)
	}
	return nil
}

// rebuildPreconditions refuses a rebuild of a region that someone writes
// or whose links run.
func (g *globals) rebuildPreconditions(ctx context.Context, cfg *config.Config, target string) error {
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	r, _ := cfg.Region(target)
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = c.At(r.URL).Healthz(hctx)
	cancel()
	if err == nil {
		return fmt.Errorf("regiond of region %s answers at %s: stop it first (systemctl stop regiond; in a lab: regionctl lab kill --region %s --component regiond): its links must not apply while its tables are replaced", target, r.URL, target)
	}
	owned, err := g.ownedBuckets(ctx, target)
	if err != nil {
		return err
	}
	if owned > 0 {
		return fmt.Errorf("region %s's cells own %d bucket(s): users write there. Fail it over first (regionctl failover --force %s) or move its buckets (regionctl switch)", target, owned, target)
	}
	return nil
}

// ownedBuckets counts the buckets region's cells own in the live routing
// table.
func (g *globals) ownedBuckets(ctx context.Context, region string) (int, error) {
	var a *api.RoutesAnswer
	if err := g.call(ctx, func(c *client.Client) (err error) {
		a, err = c.Routes(ctx)
		return err
	}); err != nil {
		return 0, fmt.Errorf("read the routing table to check that region %s owns no bucket: %w", region, err)
	}
	if a.Table == nil {
		return 0, nil
	}
	owned := 0
	for b := range a.Table.Buckets {
		if a.Table.Owner(topo.Bucket(b)).Region == region {
			owned++
		}
	}
	return owned, nil
}

// progressPrinter prints each table's progress about once a second, and
// its end.
func progressPrinter(w io.Writer) func(seed.Progress) {
	var last time.Time
	return func(p seed.Progress) {
		if !p.Done && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		switch {
		case p.Earlier:
			fmt.Fprintf(w, "%s: %d rows, copied by an earlier run\n", p.Table, p.Copied)
		case p.Done:
			fmt.Fprintf(w, "%s: %d rows copied in %s\n", p.Table, p.Copied, p.Elapsed.Round(time.Millisecond))
		default:
			rate := float64(p.Copied) / max(p.Elapsed.Seconds(), 0.001)
			eta := "?"
			if left := p.Estimate - p.Copied; left > 0 && rate > 0 {
				eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
			}
			fmt.Fprintf(w, "%s: %d of ~%d rows, %.0f rows/s, ETA %s\n", p.Table, p.Copied, p.Estimate, rate, eta)
		}
	}
}

func newRegionHistoryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List every region add, rebuild and table seed the controller recorded, newest first",
		Long: `history lists the adds (regionctl region add), the rebuilds (regionctl region
rebuild) and the seeds of one table (regionctl seed, TABLES shows the table)
recorded in the controller: who
ran each, when, why, from which donor, what it copied and kept aside, and how
it ended. One still "running" whose process is gone was interrupted: run the
same command again to go on.`,
		Example: `  regionctl region history --dir /tmp/lab
  regionctl region history --dir /tmp/lab --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var v *api.RebuildsView
			if err := g.call(cmd.Context(), func(c *client.Client) (err error) {
				v, err = c.Rebuilds(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			if g.json {
				return g.printJSON(v)
			}
			if len(v.Rebuilds) == 0 {
				fmt.Fprintln(g.out, "no region was rebuilt")
				return nil
			}
			tw := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tREGION\tDONOR\tSTATE\tSTARTED\tTABLES\tROWS\tACTOR\tREASON")
			for _, r := range v.Rebuilds {
				kind, tables := "rebuild", strconv.Itoa(r.Tables)
				switch {
				case r.Table != "":
					kind, tables = "seed", r.Table // a seed of one table
				case r.Add:
					kind = "add"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, kind, r.Region, r.Donor, r.State, r.StartedAt.Format("2006-01-02 15:04:05Z"), tables, r.Rows, r.Actor, r.Reason)
				if r.State == controller.RebuildFailed {
					fmt.Fprintf(tw, "  \t\t\t\t\t\t\t\t\t%s\n", r.Detail)
				}
			}
			return tw.Flush()
		},
	}
}
