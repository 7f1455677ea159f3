package regionctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

func newLabDemoCmd(g *globals) *cobra.Command {
	var users, repayments int
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR]",
		Short: "Start a fresh two-region lab, load a lending workload, switch, drill, add a third region, and show what runs",
		Long: `demo starts a fresh lab with regions a and b in DIR (default ./lab-demo),
creates the sample lending schema (users, loan_accounts, ledger_entries,
and the ledger's accounts, requests, ledger_totals, sharded by user) in
region a only, shows replication carry it to b, runs a
short workload that writes every user's loans and repayments in the user's
home region (both regions at once) with live replication lag, checks the
tables are identical in both regions, moves 64 buckets with a traffic switch
under load, runs a short DR drill, adds region c while users write (lab add,
region add, c's regiond with --join), and prints a tour of what is running.
A lab already in DIR is stopped and its data removed first; a folder that
holds anything else is left alone. The lab keeps running afterwards.`,
		Example: `  regionctl lab demo
  regionctl lab demo --dir /tmp/demo --users 500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.json {
				return usagef("lab demo is a tour for people and has no --json output: for a lab's endpoints as JSON, use 'regionctl lab up --json'")
			}
			if g.dir == "" {
				g.dir = "lab-demo"
			}
			return runDemo(cmd.Context(), g, users, repayments)
		},
	}
	cmd.Flags().IntVar(&users, "users", 200, "users to create")
	cmd.Flags().IntVar(&repayments, "repayments", 5, "repayments per user")
	return cmd
}

// printLag prints every link's lag twice a second until ctx ends.
func printLag(ctx context.Context, g *globals) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rep, err := g.status(ctx)
		if err != nil || ctx.Err() != nil {
			continue
		}
		var parts []string
		for _, r := range rep.Regions {
			if r.Status == nil {
				continue
			}
			for _, l := range r.Status.Links {
				parts = append(parts, fmt.Sprintf("%s->%s lag %.2fs %4d txns %5.0f txn/s", l.From, l.To, l.LagSeconds, l.LagTxns, l.Throughput))
			}
		}
		fmt.Fprintf(g.out, "  live: %s\n", strings.Join(parts, " | "))
	}
}

func runDemo(ctx context.Context, g *globals, users, repayments int) error {
	out := g.out
	dir, err := filepath.Abs(g.dir)
	if err != nil {
		return err
	}
	g.dir = dir
	if err := freshDemoDir(ctx, g); err != nil {
		return err
	}
	step := func(n int, title string) { fmt.Fprintf(out, "\n== %d. %s\n", n, title) }

	step(1, "Start a lab with two regions, a and b")
	t := time.Now()
	st, err := labUp(ctx, g, lab.Options{Regions: []string{"a", "b"}, Buckets: 1024})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "every server answered its health check %.1fs after start:\n\n", time.Since(t).Seconds())
	if err := printLabInfo(&globals{out: out, errOut: g.errOut}, st); err != nil {
		return err
	}

	step(2, "Create the lending schema in region a: replication carries it to b")
	t = time.Now()
	if err := ledger.CreateSchema(ctx, st, 30*time.Second); err != nil {
		return fmt.Errorf("%w (see regionctl status --dir %s)", err, dir)
	}
	tables := []string{lab.SampleDatabase + ".users", lab.SampleDatabase + ".loan_accounts", lab.SampleDatabase + ".ledger_entries"}
	if res, err := compareLab(ctx, st, slices.Concat(tables, lab.LedgerTables), 30*time.Second); err != nil || !res.Equal() {
		if err == nil {
			err = errors.New(strings.Join(res.Differences(5), "; "))
		}
		return fmt.Errorf("the schema did not reach region b: %w (see regionctl status --dir %s)", err, dir)
	}
	fmt.Fprintf(out, "database %s (users, loan_accounts, ledger_entries; the ledger's accounts, requests, ledger_totals; shard column user_id) created in a, present in b %.1fs later\n", lab.SampleDatabase, time.Since(t).Seconds())

	step(3, "Write a lending workload, every user in its home cell, both regions at once")
	t = time.Now()
	wctx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); printLag(wctx, g) }()
	res, err := lab.RunWorkload(ctx, st, lab.Workload{Users: users, FirstUser: 1, Repayments: repayments, Seed: 1})
	stopLag()
	<-lagDone
	if err != nil {
		return err
	}
	for _, r := range res {
		fmt.Fprintf(out, "region %s (cell %s): %d users, %d transactions committed\n", r.Region, lab.CellName(r.Region), r.Users, r.Transactions)
	}
	fmt.Fprintf(out, "in %.1fs; a user's home is bucket = fnv32a(user id) mod %d, buckets split evenly between cells\n", time.Since(t).Seconds(), st.Buckets)

	step(4, "Wait for both links to catch up, then compare the tables in every region")
	t = time.Now()
	cmp, err := compareLab(ctx, st, tables, 60*time.Second)
	if err == nil && !cmp.Equal() {
		err = errors.New(strings.Join(cmp.Differences(5), "; "))
	}
	if err != nil {
		return fmt.Errorf("regions did not converge: %w (see regionctl status --dir %s)", err, dir)
	}
	fmt.Fprintf(out, "identical in regions %s after %.1fs (compared as regionctl verify does: checksums of primary-key chunks):\n",
		strings.Join(cmp.Regions, " and "), time.Since(t).Seconds())
	for _, tr := range cmp.Tables {
		fmt.Fprintf(out, "  %-30s %6d rows in %d chunk(s), the same in every region\n", tr.Table, tr.Rows, tr.Chunks)
	}

	step(5, "Move 64 buckets from cell a1 to b1 while users write through the gateway")
	if err := demoSwitch(ctx, g, st); err != nil {
		return err
	}

	step(6, "A global table: the product catalogue is written only in its home region; move its home from a to b; reads by level")
	if err := demoGlobal(ctx, g, st); err != nil {
		return err
	}

	step(7, "Run a DR drill: pre-checks, a planned switchover of region a, failback, post-checks")
	if err := demoDrill(ctx, g); err != nil {
		return err
	}

	step(8, "Add region c while a and b take writes: its servers, a copy of every table from a, its regiond, verify")
	if st, err = demoAddRegion(ctx, g, st); err != nil {
		return err
	}

	step(9, "Ask every regiond for its status (regionctl status)")
	rep, err := g.status(ctx)
	// Dependencies are checked every 2s, a link's watermark moves with
	// capture's heartbeats (within 250ms of a write), and a region the drill failed
	// back lifts its MySQL's read-only once its regiond has seen the
	// routing table give it buckets again: give them a moment.
	for deadline := time.Now().Add(15 * time.Second); err == nil && !(rep.Healthy() && rep.CaughtUp() && writable(rep)) && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		rep, err = g.status(ctx)
	}
	if err != nil {
		return err
	}
	printStatus(g, rep)

	fmt.Fprintf(out, "\n== The lab keeps running. Try:\n")
	fmt.Fprintf(out, "  bin/regionctl status --dir %s\n", dir)
	fmt.Fprintf(out, "  bin/regionctl lab status --dir %s\n", dir)
	fmt.Fprintf(out, "  bin/regionctl route show --dir %s\n", dir)
	fmt.Fprintf(out, "  bin/regionctl switch --buckets 64-127 --to b1 --reason try --dry-run --dir %s\n", dir)
	fmt.Fprintf(out, "  curl -H 'X-User-Id: 1042' http://127.0.0.1:%d/users/1042\n", st.Regions[0].GatewayPort)
	fmt.Fprintf(out, "  mariadb -h127.0.0.1 -P%d -uroot %s -e 'SELECT COUNT(*) FROM ledger_entries'\n", st.Regions[0].MySQLPort, lab.SampleDatabase)
	fmt.Fprintf(out, "  curl -H \"Authorization: Bearer $(cat %s)\" %s/v1/status\n", filepath.Join(dir, lab.TokenFile), st.Regions[0].APIURL())
	fmt.Fprintf(out, "Stop it with: bin/regionctl lab down --dir %s\n", dir)
	return nil
}

// demoAddRegion adds region c to the running lab as the runbook does
// (lab add, region add, its regiond with --join) while users move money
// through a's and b's gateways, and returns the lab's state with c.
func demoAddRegion(ctx context.Context, g *globals, st *lab.State) (*lab.State, error) {
	out := g.out
	t := time.Now()
	bin, err := lab.FindBinaries()
	if err != nil {
		return nil, err
	}
	// Users of both regions move money through both gateways meanwhile.
	var users []int64
	for u := int64(20001); len(users) < 100; u++ {
		users = append(users, u)
	}
	w := ledger.Workload{Gateways: []string{st.Regions[0].GatewayURL(), st.Regions[1].GatewayURL()},
		Users: users, Rate: 100, Workers: 8, Duration: 2 * time.Minute,
		RunID: "demo-add", Retry: 20 * time.Millisecond, Timeout: 30 * time.Second, History: &ledger.History{}}
	if err := w.Open(ctx, time.Minute); err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(wctx)
	}()
	fmt.Fprintf(out, "100 users move money through the gateways of a and b, 100 times a second, while c is added\n")
	if st, err = lab.AddRegion(ctx, lab.Options{Dir: g.dir, Bin: bin, Progress: g.progress()}, "c"); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "c's MySQL, broker and app run; a's and b's regionds and the witness restarted one at a time on the config with c (%.1fs)\n", time.Since(t).Seconds())
	fmt.Fprintf(out, "$ regionctl region add c --donor a --reason \"demo: a third centre\"\n")
	cfg, err := g.deployment()
	if err != nil {
		return nil, err
	}
	cf := copyFlags{donor: "a", reason: "demo: a third centre", batch: 500, pc: pace{maxThreads: 25, maxLag: 10 * time.Second}}
	if err := g.addRegion(ctx, cfg, "c", cf, 0); err != nil {
		return nil, err
	}
	if err := lab.Start(ctx, lab.Options{Dir: g.dir, Bin: bin, Progress: g.progress()}, "c", "regiond"); err != nil {
		return nil, err
	}
	if err := g.waitJoined(ctx, cfg, "c", time.Minute); err != nil {
		return nil, err
	}
	stop()
	<-done
	hist := w.History.Writes()
	lost, dup, err := ledger.Verify(ctx, st, hist, users, nil, time.Minute)
	if err != nil {
		return nil, err
	}
	res := ledger.Summarize(hist)
	fmt.Fprintf(out, "clients: %d moves acknowledged (%s) during the add; in a, b and c exactly once: lost %d, duplicated %d\n", res.Acked, byRegion(res.ByRegion), lost.Violations, dup.Violations)
	if lost.Violations > 0 || dup.Violations > 0 {
		return nil, fmt.Errorf("%d writes lost (%s), %d duplicated (%s)", lost.Violations, lost.Detail, dup.Violations, dup.Detail)
	}
	db, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tables, err := verify.ReplicatedTables(ctx, []verify.Region{{Name: "a", DB: db}}, cfg.Replication)
	if err != nil {
		return nil, err
	}
	cmp, err := compareLab(ctx, st, tables, time.Minute)
	if err == nil && !cmp.Equal() {
		err = errors.New(strings.Join(cmp.Differences(5), "; "))
	}
	if err != nil {
		return nil, fmt.Errorf("region c differs after the add: %w (see regionctl status --dir %s)", err, g.dir)
	}
	fmt.Fprintf(out, "region c's regiond (started with --join) caught up; %d tables identical in a, b and c, %.1fs after the add began. Its cell c1 owns no bucket yet: give it users with regionctl switch --buckets 0-63 --to c1\n",
		len(tables), time.Since(t).Seconds())
	return st, nil
}

// freshDemoDir stops and removes a lab left in the demo folder. A folder
// that is not a lab is never removed.
func freshDemoDir(ctx context.Context, g *globals) error {
	_, err := lab.LoadState(g.dir)
	switch {
	case err == nil:
		fmt.Fprintf(g.progress(), "removing the previous demo lab in %s\n", g.dir)
		if err := lab.Down(ctx, g.dir, g.progress()); err != nil {
			return err
		}
		return os.RemoveAll(g.dir)
	case errors.Is(err, lab.ErrNoLab):
		entries, _ := os.ReadDir(g.dir)
		if len(entries) > 0 {
			return fmt.Errorf("%s is not empty and holds no lab: pick another --dir", g.dir)
		}
		return nil
	default:
		return err
	}
}

// demoSwitch opens the ledgers of users of buckets 0-63 through region
// a's gateway, writes their moves at a steady rate, moves the buckets to
// cell b1 mid-load, and checks every acknowledged write reached both
// regions exactly once.
func demoSwitch(ctx context.Context, g *globals, st *lab.State) error {
	out := g.out
	gw := st.Regions[0].GatewayURL()
	var users []int64
	for u := int64(10001); len(users) < 100; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 64 {
			users = append(users, u)
		}
	}
	w := ledger.Workload{Gateways: []string{gw}, Users: users, Rate: 200, Workers: 8, Duration: 4 * time.Second,
		RunID: "demo-switch", Retry: 20 * time.Millisecond, Timeout: 30 * time.Second, History: &ledger.History{}}
	if err := w.Open(ctx, time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d users of buckets 0-63 (cell a1, region a) opened their ledgers (wallet, savings, loan) through the gateway %s\n", len(users), gw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	time.Sleep(time.Second)
	fmt.Fprintf(out, "they move money between their own accounts 200 times a second; now: regionctl switch --buckets 0-63 --to b1\n")
	var final *traffic.Record
	err := g.call(ctx, func(c *client.Client) error {
		rec, err := c.StartSwitch(ctx, traffic.Request{Buckets: "0-63", To: "b1", Reason: "lab demo"})
		if err != nil {
			return err
		}
		final, err = (&globals{out: out, errOut: out}).follow(ctx, c, rec.ID)
		return err
	})
	if err != nil {
		return err
	}
	<-done
	printRecord(g, final)
	if final.State != traffic.Done {
		return fmt.Errorf("the demo switch %s", final.State)
	}
	hist := w.History.Writes()
	lost, dup, err := ledger.Verify(ctx, st, hist, users, nil, time.Minute)
	if err != nil {
		return err
	}
	res := ledger.Summarize(hist)
	fmt.Fprintf(out, "clients: %d moves acknowledged (%s), %d refused with 503 during the fence and retried, longest wait %d ms\n",
		res.Acked, byRegion(res.ByRegion), res.Refused, res.LongestBlockMS)
	fmt.Fprintf(out, "every acknowledged move is in both regions exactly once: lost %d, duplicated %d\n", lost.Violations, dup.Violations)
	if lost.Violations > 0 || dup.Violations > 0 {
		return fmt.Errorf("%d writes lost (%s), %d duplicated (%s)", lost.Violations, lost.Detail, dup.Violations, dup.Detail)
	}
	return nil
}

func byRegion(m map[string]int) string {
	var parts []string
	for _, r := range []string{"a", "b", "c"} {
		if m[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d served by region %s", m[r], r))
		}
	}
	return strings.Join(parts, ", ")
}

// demoPlan is the demo's drill: short, and nothing is killed (the
// monthly plan in deploy/drills kills region b).
const demoPlan = `
name: demo
description: lab demo - planned switchover of region a to b and back, with checks before and after
scenario: region a maintenance
environment: lab
target: {mode: fence}
steps:
  - kind: precheck
    criteria: {max_lag: 5s, checksums: true}
  - kind: switchover
    region: a
    to: b
    criteria: {write_forbidden_max: 2s, rpo_max: 0}
  - kind: failback
    region: a
    criteria: {rto_max: 30s, write_forbidden_max: 2s}
  - kind: postcheck
    criteria: {max_lag: 5s, checksums: true}
`

// demoDrill runs the demo plan and says where its report is.
func demoDrill(ctx context.Context, g *globals) error {
	plan, err := drill.ParsePlan([]byte(demoPlan))
	if err != nil {
		return fmt.Errorf("the demo's drill plan: %w", err)
	}
	id := "demo-" + strings.ToLower(time.Now().UTC().Format("20060102T150405"))
	dir := filepath.Join(g.dir, "drills", id)
	rep, err := g.runDrill(ctx, plan, id, dir, "lab-demo")
	if err != nil {
		return err
	}
	printDrill(g, rep, dir)
	if rep.Outcome == drill.Failed {
		return fmt.Errorf("the demo's drill failed: see %s", filepath.Join(dir, "report.html"))
	}
	return nil
}

// writable reports whether no region's MySQL is read-only for the
// application (after the drill's failback, both regions own buckets).
func writable(rep *StatusReport) bool {
	for _, r := range rep.Regions {
		if r.Status == nil || strings.HasPrefix(r.Status.MySQLReadOnly, "on:") {
			return false
		}
	}
	return true
}
