package regionctl

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/verify"
)

// SeedReport is what regionctl seed --json prints.
type SeedReport struct {
	// ID is the seed's record in the controller (regionctl region history).
	ID     string           `json:"id"`
	Table  string           `json:"table"`
	From   string           `json:"from"`
	To     string           `json:"to"`
	Kept   *seed.Kept       `json:"kept,omitempty"`
	Copy   seed.TableResult `json:"copy"`
	Paused []string         `json:"paused"`
	// Verify is the table compared in every region once the target's
	// links caught up.
	Verify  *verify.Result `json:"verify"`
	Seconds float64        `json:"seconds"`
}

// seedPause is the reason a seed pauses the target's links with: the
// seed resumes only links paused with it (an operator's pause stays).
func seedPause(table string) string { return "regionctl seed --table " + table }

func newSeedCmd(g *globals) *cobra.Command {
	var (
		table, from, to, reason string
		batch                   int
		wait                    time.Duration
		pc                      pace
	)
	cmd := &cobra.Command{
		Use:   "seed --table DB.TABLE --from REGION --to REGION --reason TEXT",
		Short: "Copy one replicated table into a running region from another, online, and verify it",
		Long: `seed replaces one table of a running region with a copy of another region's:
after a link halted on it and the rows were repaired by hand, after drift
that verify --repair cannot settle, or for a table just added to
replication. Every other region keeps taking writes, the donor included.

Before it runs, the target region owns no buckets (move them with regionctl
switch, or fail it over): its own writes to the table would be lost with
the old table. Its regiond runs.

What it does:

  1. pauses every link into the target (regionctl link pause, with the
     reason "regionctl seed --table DB.TABLE"): the other tables wait too,
     for as long as the copy takes;
  2. waits until the donor has applied every region's stream at least as
     far as the target has (--wait), so that the copy misses nothing the
     target had;
  3. keeps the target's table aside, renamed into _region (listed in
     _region.kept_tables), and copies the donor's in a consistent
     snapshot, recording its positions, paced by the donor's load, with
     progress (rows, rate, ETA) on stderr; nothing of it reaches the
     target's binlog;
  4. resumes the links it paused, and starts again any partition that had
     halted: they skip what the copy already holds and apply the rest;
  5. once the target caught up, compares the table in every region (as
     regionctl verify does) and exits 3 if it differs.

It is recorded in the controller (regionctl region history) and in the
audit log. Interrupted, the same command goes on: the links stay paused,
and the table is copied again.

Exit status: 0 seeded and identical, 1 it could not, 2 a wrong command line,
3 the table differs after the seed.`,
		Example: `  regionctl seed --table lending.loan_accounts --from a --to b --reason "halted on a repaired row" --dir /tmp/lab
  regionctl seed --table lending.products --from a --to c --reason "new table in replication" --sleep 5ms --dir /tmp/lab --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.deployment()
			if err != nil {
				return err
			}
			_, okFrom := cfg.Region(from)
			_, okTo := cfg.Region(to)
			switch {
			case strings.Count(table, ".") != 1 || strings.HasPrefix(table, ".") || strings.HasSuffix(table, "."):
				return usagef("--table %q: name one table as DATABASE.TABLE, e.g. lending.loan_accounts", table)
			case !okFrom || !okTo || from == to:
				return usagef("--from %q --to %q: give two different regions of the deployment (%s)", from, to, strings.Join(cfg.RegionNames(), ", "))
			case strings.TrimSpace(reason) == "":
				return usagef("--reason is required: it is recorded with the table kept aside and in the controller")
			case batch < 1 || wait <= 0:
				return usagef("--batch must be 1 or more, --wait more than 0")
			}
			if err := pc.validate(); err != nil {
				return err
			}
			return g.seedTable(cmd.Context(), cfg, table, from, to, reason, batch, wait, pc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&table, "table", "", "the table to copy, DATABASE.TABLE (required)")
	f.StringVar(&from, "from", "", "the donor region, copied from (required)")
	f.StringVar(&to, "to", "", "the region whose table is replaced (required)")
	f.StringVar(&reason, "reason", "", "why: recorded with the table kept aside and in the controller (required)")
	f.IntVar(&batch, "batch", 500, "rows per INSERT into the target")
	pc.flags(f)
	f.DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the donor to catch up before the copy, and for the target after it")
	return cmd
}

func (g *globals) seedTable(ctx context.Context, cfg *config.Config, table, from, to, reason string, batch int, wait time.Duration, pc pace) error {
	start := time.Now()
	dDB, err := dial.MySQL(cfg, from)
	if err != nil {
		return err
	}
	defer dDB.Close()
	tDB, err := dial.MySQL(cfg, to)
	if err != nil {
		return err
	}
	defer tDB.Close()
	tables, err := verify.ReplicatedTables(ctx, []verify.Region{{Name: from, DB: dDB}}, cfg.Replication)
	if err != nil {
		return err
	}
	if !slices.Contains(tables, table) {
		return usagef("--table %s: donor %s holds no such replicated table (its replicated tables: %s)", table, from, strings.Join(tables, ", "))
	}
	c, err := g.client(cfg)
	if err != nil {
		return err
	}
	rt, _ := cfg.Region(to)
	rf, _ := cfg.Region(from)
	tc, fc := c.At(rt.URL), c.At(rf.URL)
	if _, err := tc.Status(ctx); err != nil {
		return fmt.Errorf("regiond of region %s does not answer at %s (%w): seed pauses the region's links through it; start it, or for a region whose data is lost use regionctl region rebuild", to, rt.URL, err)
	}
	if owned, err := g.ownedBuckets(ctx, to); err != nil {
		return err
	} else if owned > 0 {
		return fmt.Errorf("region %s's cells own %d bucket(s): users write there, and their writes to %s would be lost with the old table. Move its buckets first (regionctl switch) or fail it over", to, owned, table)
	}

	rep := SeedReport{Table: table, From: from, To: to, Paused: []string{}}
	rec := controller.RebuildRecord{ID: "seed-" + to + "-" + start.UTC().Format("20060102t150405.000"), Region: to, Donor: from,
		Reason: reason, State: controller.RebuildRunning, StartedAt: start.UTC(), Table: table}
	if err := g.startRecord(ctx, rec); err != nil {
		return fmt.Errorf("record the seed in the controller (nothing was changed): %w", err)
	}
	rep.ID = rec.ID
	fail := func(err error) error {
		rec.State, rec.EndedAt, rec.Detail = controller.RebuildFailed, time.Now().UTC(), err.Error()
		g.endRecord(ctx, rec)
		return err
	}
	if rep.Paused, err = g.pauseLinks(ctx, tc, table); err != nil {
		return fail(err)
	}
	if err := g.waitDonorAhead(ctx, tc, fc, tDB, dDB, from, to, wait); err != nil {
		return fail(fmt.Errorf("%w (the links into %s stay paused: run the same command again, or regionctl link resume)", err, to))
	}
	if rep.Kept, err = seed.PrepareSeed(ctx, tDB, table, reason, time.Now()); err != nil {
		return fail(err)
	}
	if rep.Kept != nil {
		fmt.Fprintf(g.progress(), "kept %s aside as %s\n", rep.Kept.Table, rep.Kept.KeptAs)
	}
	sc := seed.DefaultConfig()
	sc.Donor, sc.DonorDB, sc.Flavor, sc.Target, sc.TargetDB, sc.Tables, sc.Batch = from, dDB, rf.MySQL.Flavor, to, tDB, []string{table}, batch
	sc.Throttle = pc.throttle(dDB, fc.Status, g.progress())
	sc.Progress = progressPrinter(g.progress())
	cp, err := seed.New(sc)
	if err != nil {
		return fail(err)
	}
	res, err := cp.Run(ctx)
	if err != nil {
		return fail(fmt.Errorf("%w (the links into %s stay paused: run the same command again to copy it again)", err, to))
	}
	rep.Copy = res[0]
	if err := g.resumeLinks(ctx, tc, table); err != nil {
		return fail(err)
	}
	fmt.Fprintf(g.progress(), "%s copied; links into %s resumed: waiting for them to catch up\n", table, to)
	if err := waitLinksCaughtUp(ctx, tc, to, wait); err != nil {
		return fail(err)
	}
	if rep.Verify, err = g.compareTables(ctx, cfg, []string{table}); err != nil {
		return fail(err)
	}
	rec.Tables, rec.Rows = 1, rep.Copy.Rows
	if rep.Kept != nil {
		rec.Kept = []string{rep.Kept.Table + " as " + rep.Kept.KeptAs}
	}
	if !rep.Verify.Equal() {
		err := outcome(fmt.Errorf("%s differs across regions after the seed: %s", table, strings.Join(rep.Verify.Differences(5), "; ")), ExitDiffers)
		rec.State, rec.EndedAt, rec.Detail = controller.RebuildFailed, time.Now().UTC(), err.Error()
		g.endRecord(ctx, rec)
		if g.json {
			rep.Seconds = time.Since(start).Seconds()
			_ = g.printJSON(rep)
		}
		return err
	}
	rec.State, rec.EndedAt, rec.Detail = controller.RebuildDone, time.Now().UTC(), "identical in every region"
	g.endRecord(ctx, rec)
	rep.Seconds = time.Since(start).Seconds()
	if g.json {
		return g.printJSON(rep)
	}
	fmt.Fprintf(g.out, "%s seeded into %s from %s: %d rows at donor GTID %s, identical in every region, in %s (recorded as %s)\n",
		table, to, from, rep.Copy.Rows, rep.Copy.Positions.GTID, time.Since(start).Round(time.Millisecond), rec.ID)
	return nil
}

// endRecord records a rebuild's or seed's end in the controller, warning
// when it cannot.
func (g *globals) endRecord(ctx context.Context, rec controller.RebuildRecord) {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.call(ectx, func(c *client.Client) error { return c.RecordRebuild(ectx, rec) }); err != nil {
		fmt.Fprintf(g.progress(), "warning: the end of %s was not recorded in the controller: %v\n", rec.ID, err)
	}
}

// pauseLinks pauses every link into the target for the seed of table; a
// link paused already (an earlier run of the same seed, or an operator)
// stays so. It returns the links paused.
func (g *globals) pauseLinks(ctx context.Context, tc *client.Client, table string) ([]string, error) {
	st, err := tc.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range st.Links {
		name := l.From + "->" + l.To
		if p := l.Pause; p != nil {
			fmt.Fprintf(g.progress(), "link %s is paused already (by %s: %s)\n", name, p.PausedBy, p.Reason)
			out = append(out, name)
			continue
		}
		if _, err := tc.PauseLink(ctx, l.From, api.PauseRequest{Reason: seedPause(table)}); err != nil && !client.IsStatus(err, 409) {
			return out, fmt.Errorf("pause link %s: %w", name, err)
		}
		fmt.Fprintf(g.progress(), "link %s paused\n", name)
		out = append(out, name)
	}
	return out, nil
}

// resumeLinks resumes the target's links the seed of table paused.
func (g *globals) resumeLinks(ctx context.Context, tc *client.Client, table string) error {
	st, err := tc.Status(ctx)
	if err != nil {
		return err
	}
	for _, l := range st.Links {
		if l.Pause == nil { // a link both paused and halted shows halted
			continue
		}
		if l.Pause.Reason != seedPause(table) {
			fmt.Fprintf(g.progress(), "link %s->%s stays paused: %s paused it (%s)\n", l.From, l.To, l.Pause.PausedBy, l.Pause.Reason)
			continue
		}
		if _, err := tc.ResumeLink(ctx, l.From, api.PauseRequest{Reason: seedPause(table) + ": copied"}); err != nil && !client.IsStatus(err, 409) {
			return fmt.Errorf("resume link %s->%s: %w (resume it with regionctl link resume)", l.From, l.To, err)
		}
		// A partition that halted on the table (the usual reason for a
		// seed) starts again: its message is held by the copy, or applies
		// to it.
		a, err := tc.RetryLink(ctx, l.From, api.RetryRequest{Reason: seedPause(table) + ": copied"})
		if err != nil {
			return fmt.Errorf("retry link %s->%s's halted partitions: %w (regionctl link retry)", l.From, l.To, err)
		}
		if len(a.Partitions) > 0 {
			fmt.Fprintf(g.progress(), "link %s->%s: halted partitions %v start again\n", l.From, l.To, a.Partitions)
		}
	}
	return nil
}

// waitDonorAhead waits until the donor has applied every source's
// stream at least as far as the target has (per partition), and the
// target's own stream as far as the target published: a copy taken
// before that would lack changes the target had, which its links,
// resuming from their checkpoints, would not bring again.
func (g *globals) waitDonorAhead(ctx context.Context, tc, fc *client.Client, tDB, dDB *sql.DB, from, to string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	said := ""
	for {
		behind, err := donorBehind(ctx, tc, fc, tDB, dDB, from, to)
		if err != nil {
			return err
		}
		if behind == "" {
			return nil
		}
		if behind != said {
			fmt.Fprintf(g.progress(), "waiting for %s: %s\n", from, behind)
			said = behind
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("donor %s is still behind region %s after %s: %s; check its links (regionctl status), or raise --wait", from, to, wait, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// donorBehind says where the donor is behind the target, or "".
func donorBehind(ctx context.Context, tc, fc *client.Client, tDB, dDB *sql.DB, from, to string) (string, error) {
	tcp, err := linkOffsets(ctx, tDB)
	if err != nil {
		return "", fmt.Errorf("region %s: %w", to, err)
	}
	dcp, err := linkOffsets(ctx, dDB)
	if err != nil {
		return "", fmt.Errorf("donor %s: %w", from, err)
	}
	for src, parts := range tcp {
		if src == from {
			continue // the donor's own stream: its snapshot holds all the target applied
		}
		for p, off := range parts {
			if got, ok := dcp[src][p]; !ok || got < off {
				return fmt.Sprintf("its link %s->%s has applied partition %d up to offset %d, %s's up to %d", src, from, p, got, to, off), nil
			}
		}
	}
	ts, err := tc.Status(ctx)
	if err != nil {
		return "", err
	}
	ds, err := fc.Status(ctx)
	if err != nil {
		return "", err
	}
	for _, l := range ds.Links {
		if l.From == to && l.AppliedSeq < ts.Capture.Published.Seq {
			return fmt.Sprintf("its link %s->%s has applied up to seq %d of the %d %s published", to, from, l.AppliedSeq, ts.Capture.Published.Seq, to), nil
		}
	}
	return "", nil
}

// linkOffsets reads a region's link checkpoints: source -> partition ->
// the Kafka offset applied.
func linkOffsets(ctx context.Context, db *sql.DB) (map[string]map[int32]int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT source, part, kafka_offset FROM "+binlog.MetaSchema+".apply_checkpoints")
	if err != nil {
		return nil, fmt.Errorf("read the link checkpoints: %w", err)
	}
	defer rows.Close()
	out := map[string]map[int32]int64{}
	for rows.Next() {
		var src string
		var p int32
		var off int64
		if err := rows.Scan(&src, &p, &off); err != nil {
			return nil, err
		}
		if out[src] == nil {
			out[src] = map[int32]int64{}
		}
		out[src][p] = off
	}
	return out, rows.Err()
}

// waitLinksCaughtUp waits until every link into the region runs and has
// applied what its source had published when the wait began (the sources
// keep writing: the links are never level with them for long).
func waitLinksCaughtUp(ctx context.Context, tc *client.Client, region string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var goal map[string]uint64
	for {
		st, err := tc.Status(ctx)
		if err != nil {
			return err
		}
		if goal == nil {
			goal = map[string]uint64{}
			for _, l := range st.Links {
				goal[l.From] = l.PublishedSeq
			}
		}
		behind := ""
		for _, l := range st.Links {
			if l.State != apply.StateRunning || l.AppliedSeq < goal[l.From] {
				behind = fmt.Sprintf("link %s->%s is %s at seq %d of %d", l.From, l.To, l.State, l.AppliedSeq, goal[l.From])
				break
			}
		}
		if behind == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("region %s has not caught up after the seed: %s (regionctl link show)", region, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
