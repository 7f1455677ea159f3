package regiond_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

// TestAddRegionUnderLoad: the path from two regions to three. Regions a
// and b keep moving money through their gateways, and a job in a writes
// a table without a primary key, while region c is added, as the runbook
// has it: lab add gives c its servers and restarts a's and b's regionds
// on the new config; region add copies every table from a, each in its
// own snapshot (its process killed midway and run again, and a schema
// change made in b meanwhile), makes c's node a controller voter, waits
// for c's regiond (started with --join) to catch up and finds every table
// identical. c's links skip what each copy already holds; accounts
// damaged by hand in c are then repaired by a seed of that table from b;
// a switch gives c's cell users, who write there. Every region then holds
// the same rows, every acknowledged write is in each exactly once, and c
// recorded no conflict.
func TestAddRegionUnderLoad(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: lab.SampleDatabase + ".job_log", Conflict: config.ConflictOverwrite}}}, "a", "b")
	createLedger(t, st)
	ctx := context.Background()
	dbA, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	if _, err := dbA.Exec("CREATE TABLE " + lab.SampleDatabase + ".job_log (at DATETIME(6) NOT NULL, msg VARCHAR(64) NOT NULL) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	labapi.Converged(t, st, 60*time.Second)

	var home [2][]int64
	for u := int64(1); len(home[0]) < 16 || len(home[1]) < 16; u++ {
		if h := st.HomeRegion(u); len(home[h]) < 16 {
			home[h] = append(home[h], u)
		}
	}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	loads := make([]ledger.Workload, 2)
	for i := range loads {
		loads[i] = loadOf(t, st.Regions[i].GatewayURL(), home[i], 40)
		wg.Go(func() { loads[i].Run(lctx) })
	}
	// A back-office job in a, straight into MySQL: each transaction logs
	// its run (no primary key) and moves a global rate, with a savepoint
	// whose second rate change is rolled back every other run.
	wg.Go(func() {
		for i := 0; lctx.Err() == nil && i < 5000; i++ {
			q := "START TRANSACTION; INSERT INTO " + lab.SampleDatabase + ".job_log VALUES (UTC_TIMESTAMP(6), 'run " + strconv.Itoa(i) + "'); " +
				"UPDATE " + lab.SampleDatabase + ".rates SET rate_bp = rate_bp + 1, version = version + 1, region = 'a' WHERE name = 'prime'; SAVEPOINT s; " +
				"UPDATE " + lab.SampleDatabase + ".rates SET rate_bp = rate_bp + 1, version = version + 1, region = 'a' WHERE name = 'fx-eur'; "
			if i%2 == 0 {
				q += "ROLLBACK TO SAVEPOINT s; "
			}
			if _, err := dbA.Exec(q + "COMMIT"); err != nil {
				t.Errorf("job: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	// The lending app opens users and loans in their home regions (rows
	// with claims and versions, which the copy brings along).
	wg.Go(func() {
		if _, err := lab.RunWorkload(lctx, st, lab.Workload{Users: 60, FirstUser: 5000, Repayments: 10, Seed: 3}); err != nil && lctx.Err() == nil {
			t.Errorf("lending workload: %v", err)
		}
	})
	time.Sleep(time.Second)

	add := []string{"region", "add", "c", "--donor", "a", "--reason", "third centre", "--batch", "20", "--sleep", "20ms"}
	if out, err := regionctlIn(st, add...); err == nil || !strings.Contains(out, "not in the deployment config") {
		t.Fatalf("region add before c is in the config: %v\n%s", err, out)
	}
	if st, err = lab.AddRegion(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "c"); err != nil {
		t.Fatal(err)
	}
	dbC, err := lab.OpenMySQL(st.Regions[2].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbC.Close()
	// The copying process dies (kill -9) while it copies its second table.
	killed := exec.Command(labtest.Bin().Regionctl, append(add, "--sleep", "100ms", "--dir", st.Dir)...)
	stderr, err := killed.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	for sc, first := bufio.NewScanner(stderr), false; sc.Scan(); {
		first = first || strings.Contains(sc.Text(), "rows copied in")
		if first && strings.Contains(sc.Text(), " of ~") {
			break
		}
	}
	_ = killed.Process.Kill()
	_ = killed.Wait()
	recs, err := seed.Records(ctx, dbC)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, r := range recs {
		states[r.State]++
	}
	if states[seed.StateDone] == 0 || states[seed.StateCopying] != 1 {
		t.Fatalf("after the copying process was killed: %v; want some tables done and one being copied", states)
	}
	// A schema change in b while c is copied, on a table both regions'
	// users write: a's copy of it may or may not hold it yet, and c's
	// link from b reaches it either way.
	dbB, err := lab.OpenMySQL(st.Regions[1].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	alter := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := dbB.Exec("ALTER TABLE " + lab.SampleDatabase + ".ledger_entries ADD COLUMN channel VARCHAR(16) NULL")
		alter <- err
	}()
	// Run again, it goes on; once it waits for c's regiond, that starts.
	again := exec.Command(labtest.Bin().Regionctl, append(add, "--wait", "2m", "--dir", st.Dir)...)
	var stdout strings.Builder
	again.Stdout = &stdout
	if stderr, err = again.StderrPipe(); err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "waiting up to") {
		progress.WriteString(sc.Text() + "\n")
	}
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "c", "regiond"); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	for sc.Scan() {
		progress.WriteString(sc.Text() + "\n")
	}
	err = again.Wait()
	if aerr := <-alter; aerr != nil {
		t.Fatalf("schema change in b: %v", aerr)
	}
	out := progress.String() + stdout.String()
	if err != nil || !strings.Contains(out, "going on with it") || !strings.Contains(out, "copied by an earlier run") || !strings.Contains(out, "identical in every region") {
		t.Fatalf("region add after the kill: %v\n%s", err, out)
	}
	t.Logf("regionctl %s (c caught up %s after its regiond started):\n%s", strings.Join(add, " "), time.Since(restarted).Round(time.Millisecond), out)
	// Both runs are in the controller's history, the killed one ended;
	// c's node is a voter.
	var hist api.RebuildsView
	if out, err := regionctlIn(st, "region", "history", "--json"); err != nil || json.Unmarshal([]byte(out), &hist) != nil {
		t.Fatalf("region history: %v\n%s", err, out)
	}
	if len(hist.Rebuilds) != 2 || hist.Rebuilds[0].State != controller.RebuildDone || !hist.Rebuilds[0].Add || hist.Rebuilds[0].Actor == "" || !hist.Rebuilds[0].Resumed ||
		hist.Rebuilds[1].State != controller.RebuildFailed || !strings.Contains(hist.Rebuilds[1].Detail, "interrupted") {
		t.Errorf("add history: %+v; want the resumed run done and the killed one failed (interrupted)", hist.Rebuilds)
	}
	cs := labapi.Client(t, st, "c")
	ctl, err := cs.Controller(ctx)
	if err != nil || !slices.ContainsFunc(ctl.Node.Voters, func(p controller.Peer) bool { return p.ID == "c" }) {
		t.Errorf("c's node is not a voter: %v %+v", err, ctl)
	}

	// While a and b write: accounts damaged in c by hand, and that table
	// seeded again into c from b (a is then another source, whose changes
	// b's copy holds up to b's checkpoint).
	entries := lab.SampleDatabase + ".accounts"
	if _, err := dbC.Exec("SET SESSION sql_log_bin = 0; DELETE FROM " + entries + " ORDER BY id LIMIT 10; UPDATE " + entries + " SET balance_cents = -1 ORDER BY id DESC LIMIT 10; SET SESSION sql_log_bin = 1"); err != nil {
		t.Fatal(err)
	}
	skippedURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", st.Regions[2].APIPort)
	skippedBefore := metricSum(t, skippedURL, "regiond_apply_seeded_rows_skipped_total")
	if out, err := regionctlIn(st, "seed", "--table", entries, "--from", "b", "--to", "a", "--reason", "x"); err == nil || !strings.Contains(out, "region a's cells own") {
		t.Fatalf("a seed into a region that owns buckets: %v\n%s", err, out)
	}
	// An earlier run of the same seed died after pausing c's links: a
	// and b keep moving money meanwhile, so c's links are behind what b's
	// copy will hold, and the run below goes on from there.
	for _, src := range []string{"a", "b"} {
		if _, err := cs.PauseLink(ctx, src, api.PauseRequest{Reason: "regionctl seed --table " + entries}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	seeded := time.Now()
	out, err = regionctlIn(st, "seed", "--table", entries, "--from", "b", "--to", "c", "--reason", "rows damaged by hand", "--batch", "50")
	if err != nil || !strings.Contains(out, "identical in every region") || !strings.Contains(out, "paused already") {
		t.Fatalf("seed of %s into c: %v\n%s", entries, err, out)
	}
	t.Logf("regionctl seed (%s):\n%s", time.Since(seeded).Round(time.Millisecond), out)
	// Balances move all the time: c's links, resumed from before b's
	// snapshot, reach changes the copy holds. Applied again, they would
	// find the copy's later balances: a conflict, and c halted.
	if after := metricSum(t, skippedURL, "regiond_apply_seeded_rows_skipped_total"); after <= skippedBefore {
		t.Errorf("c's links skipped no row of the seeded table (%.0f before, %.0f after): the filter was not exercised", skippedBefore, after)
	}
	// c's cell takes users: half of a's buckets, with their writes.
	if out, err := regionctlIn(st, "switch", "--buckets", "0-255", "--to", "c1", "--reason", "c takes users"); err != nil {
		t.Fatalf("switch to c1: %v\n%s", err, out)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	labapi.Converged(t, st, time.Minute)

	movedToC := 0
	for i, load := range loads {
		hist := load.History.Writes()
		sum := ledger.Summarize(hist)
		if sum.Acked == 0 {
			t.Fatalf("load %d: nothing acknowledged: %+v", i, sum)
		}
		lost, dup, err := ledger.Verify(ctx, st, hist, load.Users, nil, time.Minute)
		if err != nil || lost.Violations != 0 || dup.Violations != 0 {
			t.Fatalf("load %d: %d acknowledged, lost %+v, duplicated %+v, %v", i, sum.Acked, lost, dup, err)
		}
		for _, u := range load.Users {
			if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) <= 255 {
				movedToC++
			}
		}
		t.Logf("load %d: %d acknowledged: in a, b and c, none lost, none doubled", i, sum.Acked)
	}
	tables := replicatedTables(t, dbA)
	regions, closeAll, err := ledger.Regions(st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	vcfg := verify.DefaultConfig()
	vcfg.RecheckDelay = 200 * time.Millisecond
	cmp, err := verify.Converge(ctx, vcfg, regions, tables, time.Minute)
	if err != nil || !cmp.Equal() {
		t.Fatalf("after the add the regions differ: %v %v", err, cmp.Differences(5))
	}
	for _, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'ledger_entries' AND COLUMN_NAME = 'channel'", lab.SampleDatabase).Scan(&n)
		db.Close()
		if err != nil || n != 1 {
			t.Errorf("region %s: the schema change made in b during the copy: %d column(s), %v", r.Name, n, err)
		}
	}
	// What a copy held and a link applied again would be a conflict or, in
	// the table without a primary key, a row too many.
	var conflicts, kept, damaged int
	if err := dbC.QueryRow("SELECT COUNT(*) FROM _region.conflicts").Scan(&conflicts); err != nil {
		t.Fatal(err)
	}
	if conflicts != 0 {
		t.Errorf("c recorded %d conflicts while catching up: changes its copies held were applied again", conflicts)
	}
	// c's damaged accounts are kept aside by the seed, not dropped.
	var keptAs string
	if err := dbC.QueryRow("SELECT COUNT(*), MAX(kept_as) FROM _region.kept_tables").Scan(&kept, &keptAs); err != nil {
		t.Fatal(err)
	}
	if err := dbC.QueryRow("SELECT COUNT(*) FROM _region." + keptAs + " WHERE balance_cents = -1").Scan(&damaged); err != nil {
		t.Fatal(err)
	}
	if kept != 1 || damaged == 0 {
		t.Errorf("kept aside: %d tables (want 1: the seed's; the add found c empty), %d damaged accounts in %s (want those replication did not change since)", kept, damaged, keptAs)
	}
	if movedToC == 0 {
		t.Error("no load user moved to c: the switch proved nothing about c taking writes")
	}
	skipped := metricSum(t, skippedURL, "regiond_apply_seeded_rows_skipped_total")
	t.Logf("%d tables identical in a, b and c; c's links skipped %.0f rows the copies held; %d users write in c", len(tables), skipped, movedToC)
	if skipped == 0 {
		t.Error("c's links skipped no row: the copies were not overtaken, so the test did not check the filter")
	}
}

// TestRebuildRegionAfterItsDataIsLost: region b dies with its disk. A
// forced failover moves its buckets to a while a's users keep writing;
// b's MySQL comes back with an empty data folder, and its RPO stays
// pending (its binlog is behind what a applied: it cannot be counted as
// zero). region rebuild copies every table from a; b's regiond starts,
// its capture continues the binlog's numbering from what it had
// published, and the RPO is completed saying what cannot be counted. The
// failback gives b its buckets back: both regions hold the same rows,
// b's writes from before the loss among them, and every acknowledged
// write is in each exactly once.
func TestRebuildRegionAfterItsDataIsLost(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	tok, _ := lab.ReadToken(st.Dir)
	createLedger(t, st)
	labapi.Converged(t, st, 60*time.Second)
	ctx := context.Background()
	var home [2][]int64
	for u := int64(1); len(home[0]) < 12 || len(home[1]) < 12; u++ {
		if h := st.HomeRegion(u); len(home[h]) < 12 {
			home[h] = append(home[h], u)
		}
	}
	gwA := st.Regions[0].GatewayURL()
	// b's users write in b first; that reaches a.
	before := loadOf(t, st.Regions[1].GatewayURL(), home[1], 40)
	bctx, stopB := context.WithTimeout(ctx, 2*time.Second)
	before.Run(bctx)
	stopB()
	labapi.Converged(t, st, 30*time.Second)
	// a's users keep writing through it all.
	load := loadOf(t, gwA, home[0], 40)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { load.Run(lctx) })
	time.Sleep(time.Second)

	rebuild := []string{"region", "rebuild", "b", "--donor", "a", "--reason", "b's disk died", "--batch", "20", "--sleep", "20ms"}
	if out, err := regionctlIn(st, rebuild...); err == nil || !strings.Contains(out, "regiond of region b answers") {
		t.Fatalf("a rebuild while b's regiond runs: %v\n%s", err, out)
	}
	if err := lab.Kill(ctx, st.Dir, "b", "all"); err != nil {
		t.Fatal(err)
	}
	if out, err := regionctlIn(st, rebuild...); err == nil || !strings.Contains(out, "region b's cells own") {
		t.Fatalf("a rebuild while b owns buckets: %v\n%s", err, out)
	}
	out, err := regionctlIn(st, "failover", "--force", "--from", "b", "--to", "a", "--reason", "b's disk died")
	if err != nil || !strings.Contains(out, "RPO PENDING") {
		t.Fatalf("forced failover of b: %v\n%s", err, out)
	}
	if err := os.RemoveAll(filepath.Join(st.Dir, "b", "mysql", "data")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"mysql", "broker"} {
		if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", c); err != nil {
			t.Fatal(err)
		}
	}
	// The controller's leader tries to count the RPO every 3 s: against
	// a server made anew it must not find "nothing lost".
	time.Sleep(4 * time.Second)
	cs := waitController(t, st, "a", tok, 5*time.Second, "the failover recorded", func(cs api.ControllerStatus) bool { return len(cs.State.Failovers) > 0 })
	var fo controller.FailoverRecord
	for _, f := range cs.State.Failovers {
		fo = f
	}
	if !fo.RPO.Pending {
		t.Fatalf("the RPO was completed against b's empty server: %+v", fo.RPO)
	}

	if out, err := regionctlIn(st, rebuild...); err != nil || !strings.Contains(out, "region b rebuilt from a") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", "all"); err != nil {
		t.Fatal(err)
	}
	cs = waitController(t, st, "a", tok, 30*time.Second, "the RPO completed", func(cs api.ControllerStatus) bool { return !cs.State.Failovers[fo.ID].RPO.Pending })
	rpo := cs.State.Failovers[fo.ID].RPO
	t.Logf("RPO of %s: %d counted after %s; uncounted: %s", fo.ID, rpo.LostCount, rpo.LastAppliedGTID, rpo.Uncounted)
	if !strings.Contains(rpo.Uncounted, "lost with its data") {
		t.Errorf("the RPO does not say what could not be counted: %+v", rpo)
	}
	waitCaughtUp(t, st, "b", time.Minute)
	if out, err := regionctlIn(st, "failback", "--to", "b", "--reason", "rebuilt"); err != nil || !strings.Contains(out, "DONE") {
		t.Fatalf("failback to b: %v\n%s", err, out)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	labapi.Converged(t, st, time.Minute)
	for _, l := range []ledger.Workload{before, load} {
		hist := l.History.Writes()
		lost, dup, err := ledger.Verify(ctx, st, hist, l.Users, nil, time.Minute)
		if err != nil || lost.Violations != 0 || dup.Violations != 0 {
			t.Fatalf("%d writes: lost %+v, duplicated %+v, %v", len(hist), lost, dup, err)
		}
	}
	dbA, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	regions, closeAll, err := ledger.Regions(st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	vcfg := verify.DefaultConfig()
	vcfg.RecheckDelay = 200 * time.Millisecond
	tables := replicatedTables(t, dbA)
	if cmp, err := verify.Converge(ctx, vcfg, regions, tables, time.Minute); err != nil || !cmp.Equal() {
		t.Fatalf("after the rebuild and failback the regions differ: %v %v", err, cmp.Differences(5))
	}
	t.Logf("%d tables identical in a and b after b lost its data; %d + %d acknowledged writes in both", len(tables), ledger.Summarize(before.History.Writes()).Acked, ledger.Summarize(load.History.Writes()).Acked)
}

// TestSeedAfterAHalt: the use the seed is for. A table with the default
// policy (reject) is changed in b by hand; b's link from a halts on the
// next change of that row while a's job keeps updating the table (two
// rows and an audit row with a unique receipt in each transaction). b's
// buckets are moved to a (a planned failover), and the table is seeded
// into b from a: the halted partition starts again, b catches up, the
// table is identical in both and the link runs.
func TestSeedAfterAHalt(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	ctx := context.Background()
	dbA, dbB := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	limits, changes := lab.SampleDatabase+".limits", lab.SampleDatabase+".limit_changes"
	mustExec(t, dbA, "CREATE DATABASE IF NOT EXISTS "+lab.SampleDatabase,
		"CREATE TABLE "+limits+" (id BIGINT PRIMARY KEY, amount_cents BIGINT NOT NULL, updated_at DATETIME(6) NOT NULL)",
		"INSERT INTO "+limits+" SELECT seq, 1000, UTC_TIMESTAMP(6) FROM "+lab.SampleDatabase+".seq_1_to_20",
		"CREATE TABLE "+changes+" (id BIGINT AUTO_INCREMENT PRIMARY KEY, receipt VARCHAR(40) NOT NULL, limit_id BIGINT NOT NULL, UNIQUE KEY (receipt))")
	labapi.Converged(t, st, 30*time.Second)
	if out, err := regionctlIn(st, "failover", "--from", "b", "--to", "a", "--planned", "--reason", "seed limits in b"); err != nil {
		t.Fatalf("planned failover of b: %v\n%s", err, out)
	}
	mustExec(t, dbB, "SET SESSION sql_log_bin = 0", "UPDATE "+limits+" SET amount_cents = -1 WHERE id = 5")
	jctx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	job := make(chan error, 1)
	go func() {
		// As a limits job writes: two users' limits and an audit row with
		// a unique receipt, in one transaction. The seed holds the limits
		// rows of such a transaction, not its audit row.
		for i := 0; jctx.Err() == nil && i < 3000; i++ {
			_, err := dbA.Exec(fmt.Sprintf("BEGIN; UPDATE %[1]s SET amount_cents = amount_cents + 1, updated_at = UTC_TIMESTAMP(6) WHERE id IN (%[3]d, %[4]d); "+
				"INSERT INTO %[2]s (receipt, limit_id) VALUES ('rcpt-%[5]d', %[3]d); COMMIT", limits, changes, i%20+1, (i+7)%20+1, i))
			if err != nil {
				job <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		job <- nil
	}()
	if err := lab.WaitUntil(ctx, 30*time.Second, func() bool {
		s, err := status(t, st, "b")
		return err == nil && len(s.Links) == 1 && s.Links[0].State == "halted"
	}); err != nil {
		t.Fatalf("b's link did not halt on the row changed by hand: %v", err)
	}
	out, err := regionctlIn(st, "seed", "--table", limits, "--from", "a", "--to", "b", "--reason", "halted on a row changed by hand")
	if err != nil || !strings.Contains(out, "halted partitions") || !strings.Contains(out, "identical in every region") {
		t.Fatalf("seed after the halt: %v\n%s", err, out)
	}
	t.Logf("regionctl seed:\n%s", out)
	stopJob()
	if err := <-job; err != nil {
		t.Fatalf("a's job: %v", err)
	}
	labapi.Converged(t, st, 30*time.Second)
	sameTables(t, st, limits, changes)
	var conflicts int
	if err := dbB.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'limits'").Scan(&conflicts); err != nil || conflicts != 1 {
		t.Errorf("b recorded %d conflicts on limits (%v): want the one it halted on, and none after the seed", conflicts, err)
	}
}

// regionctlIn runs regionctl on the lab and returns what it printed.
func regionctlIn(st *lab.State, args ...string) (string, error) {
	out, err := exec.Command(labtest.Bin().Regionctl, append(args, "--dir", st.Dir)...).CombinedOutput()
	return string(out), err
}

// waitCaughtUp waits, as an operator would in regionctl status, until
// region's links have applied everything their sources published.
func waitCaughtUp(t *testing.T, st *lab.State, region string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(250 * time.Millisecond) {
		all := labapi.Statuses(t, st)
		behind := []string{}
		for _, l := range all[region].Links {
			if src := all[l.From]; l.State != "running" || l.AppliedSeq < src.Capture.Published.Seq {
				behind = append(behind, fmt.Sprintf("%s->%s %s applied %d of %d", l.From, region, l.State, l.AppliedSeq, src.Capture.Published.Seq))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not catch up: %v", region, behind)
		}
	}
}

// replicatedTables lists the application's tables (the lab's sample
// database) in a region.
func replicatedTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", lab.SampleDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if len(out) < 5 {
		t.Fatalf("%d tables in %s: want the sample and ledger tables", len(out), lab.SampleDatabase)
	}
	return out
}

// metricSum adds up every series of one metric on a /metrics page.
func metricSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}
