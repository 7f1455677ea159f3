package regiond_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/verify"
)

// TestRebuildRegionFromACopy: regions a and b keep moving money through
// their gateways while region c loses its data (its regiond stopped, its
// tables and link checkpoints gone). c's tables are copied from a, each
// in its own snapshot, with the load going on; c's regiond starts again,
// its links start from the copies' positions and skip what each copy
// already holds. Every region then holds the same rows, and every
// acknowledged write is in each exactly once.
func TestRebuildRegionFromACopy(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: lab.SampleDatabase + ".job_log", Conflict: config.ConflictOverwrite}}}, "a", "b", "c")
	createLedger(t, st)
	labapi.Converged(t, st, 60*time.Second)
	ctx := context.Background()
	var home [2][]int64
	for u := int64(1); len(home[0]) < 16 || len(home[1]) < 16; u++ {
		if h := st.HomeRegion(u); h < 2 && len(home[h]) < 16 {
			home[h] = append(home[h], u)
		}
	}
	dbA, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	// A job in a that writes MySQL without the gateway, into a table
	// without a primary key: a row applied twice there is a row too many.
	if _, err := dbA.Exec("CREATE TABLE " + lab.SampleDatabase + ".job_log (at DATETIME(6) NOT NULL, msg VARCHAR(64) NOT NULL) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	labapi.Converged(t, st, 30*time.Second)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	loads := make([]ledger.Workload, 2)
	for i := range loads {
		loads[i] = loadOf(t, fmt.Sprintf("http://127.0.0.1:%d", st.Regions[i].GatewayPort), home[i], 40)
		wg.Go(func() { loads[i].Run(lctx) })
	}
	wg.Go(func() {
		for i := 0; lctx.Err() == nil && i < 5000; i++ {
			if _, err := dbA.Exec("INSERT INTO "+lab.SampleDatabase+".job_log VALUES (UTC_TIMESTAMP(6), ?)", fmt.Sprint("run ", i)); err != nil {
				t.Errorf("job: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	time.Sleep(time.Second)

	// c loses its data.
	if err := lab.Kill(ctx, st.Dir, "c", "regiond"); err != nil {
		t.Fatal(err)
	}
	dbC, err := lab.OpenMySQL(st.Regions[2].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dbC.Close()
	tables := replicatedTables(t, dbA)
	wipe := []string{"SET SESSION sql_log_bin = 0", "DELETE FROM _region.apply_checkpoints"}
	for _, tb := range tables {
		wipe = append(wipe, "DELETE FROM "+tb)
	}
	conn, err := dbC.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range wipe {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()

	// The copy, paced so that the load runs between its snapshots.
	cfg := seed.DefaultConfig()
	cfg.Donor, cfg.DonorDB, cfg.Target, cfg.TargetDB, cfg.Tables, cfg.Batch = "a", dbA, "c", dbC, tables, 20
	cfg.Throttle = func(ctx context.Context) error { time.Sleep(20 * time.Millisecond); return nil }
	c, err := seed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Logf("copied %s: %d rows at a's %s", r.Table, r.Rows, r.Positions.GTID)
	}
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "c", "regiond"); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	time.Sleep(2 * time.Second)
	stopLoad()
	wg.Wait()
	labapi.Converged(t, st, time.Minute)
	t.Logf("c caught up %s after its regiond started", time.Since(restarted).Round(time.Millisecond))

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
		t.Logf("load %d: %d acknowledged: in a, b and c, none lost, none doubled", i, sum.Acked)
	}
	regions, closeAll, err := ledger.Regions(st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	vcfg := verify.DefaultConfig()
	vcfg.RecheckDelay = 200 * time.Millisecond
	cmp, err := verify.Converge(ctx, vcfg, regions, tables, time.Minute)
	if err != nil || !cmp.Equal() {
		t.Fatalf("after the rebuild the regions differ: %v %v", err, cmp.Differences(5))
	}
	// What a copy held and a link applied again would have been a
	// conflict (the row already past the change): none may be recorded.
	var conflicts int
	if err := dbC.QueryRow("SELECT COUNT(*) FROM _region.conflicts").Scan(&conflicts); err != nil {
		t.Fatal(err)
	}
	if conflicts != 0 {
		t.Errorf("c recorded %d conflicts while catching up: changes its copies held were applied again", conflicts)
	}
	skipped := metricSum(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", st.Regions[2].APIPort), "regiond_apply_seeded_rows_skipped_total")
	t.Logf("%d tables identical in a, b and c; c's links skipped %.0f rows the copies held", len(tables), skipped)
	if skipped == 0 {
		t.Error("c's links skipped no row: the copies were not overtaken, so the test did not check the filter")
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
