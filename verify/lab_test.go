package verify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/regionctl"
	"github.com/regionplatform/region/verify"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var sampleTables = []string{"lending.users", "lending.loan_accounts", "lending.ledger_entries", "lending.pairs"}

// TestVerifyLab runs verify on a real two-region lab: identical tables,
// drift made with replication bypassed (found with the right kinds,
// printed by the CLI, repaired from each row's owner without echo),
// a composite key repaired --from a region, a table without a primary
// key refused, and a difference that is only replication lag not
// reported.
func TestVerifyLab(t *testing.T) {
	ctx := context.Background()
	// lending.nopk has no primary key: listed as overwrite, since the
	// reject default needs a key.
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: "lending.nopk", Conflict: config.ConflictOverwrite}, {Name: "lending.scratch_*", Class: config.ClassLocal}}}, "a", "b")
	a, b := openDB(t, st, "a"), openDB(t, st, "b")
	mustExec(t, a, lab.SampleSchema...)
	mustExec(t, a, "CREATE TABLE lending.pairs (k1 INT NOT NULL, k2 VARCHAR(8) NOT NULL, v VARCHAR(16) NULL, PRIMARY KEY (k1, k2))")
	for i := 0; i < 50; i++ {
		mustExec(t, a, fmt.Sprintf("INSERT INTO lending.pairs VALUES (%d, 'k%d', %s)", i/4, i%4, map[bool]string{true: "NULL", false: "'v'"}[i%5 == 0]))
	}
	labapi.Converged(t, st, 60*time.Second) // b has the schema
	if _, err := lab.RunWorkload(ctx, st, lab.Workload{Users: 40, FirstUser: 1, Repayments: 2, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	labapi.Converged(t, st, 60*time.Second)
	regions := []verify.Region{{Name: "a", DB: a}, {Name: "b", DB: b}}
	cfg := verify.DefaultConfig()
	cfg.ChunkSize, cfg.Rechecks, cfg.RecheckDelay = 16, 2, 200*time.Millisecond

	// Identical tables.
	res, err := verify.Compare(ctx, cfg, regions, sampleTables)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal() || res.DiffsTotal != 0 {
		t.Fatalf("identical tables reported different: %+v", res)
	}
	for _, tr := range res.Tables {
		var n int64
		if err := a.QueryRow("SELECT COUNT(*) FROM " + tr.Table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if tr.Rows != n || tr.Chunks != int(n/16)+1 {
			t.Errorf("%s: %d rows in %d chunks, want %d rows in %d chunks", tr.Table, tr.Rows, tr.Chunks, n, n/16+1)
		}
	}

	// Drift in b that replication never sees: one user of each region.
	ua, ub := userOf(t, st, 0), userOf(t, st, 1)
	var acctB, entryA int64
	if err := a.QueryRow("SELECT id FROM lending.loan_accounts WHERE user_id = ?", ub).Scan(&acctB); err != nil {
		t.Fatal(err)
	}
	if err := a.QueryRow("SELECT MIN(id) FROM lending.ledger_entries WHERE user_id = ?", ua).Scan(&entryA); err != nil {
		t.Fatal(err)
	}
	bypass(t, b,
		fmt.Sprintf("UPDATE lending.users SET name = 'drifted' WHERE id = %d", ua),                             // a owns it: a's copy wins
		fmt.Sprintf("UPDATE lending.loan_accounts SET balance_cents = balance_cents + 1 WHERE id = %d", acctB), // b owns it: b's copy wins, a is written
		fmt.Sprintf("DELETE FROM lending.ledger_entries WHERE id = %d", entryA),
		fmt.Sprintf("INSERT INTO lending.ledger_entries (id, user_id, account_id, amount_cents, kind) VALUES (999999, %d, 1, 5, 'stray')", ua),
	)
	res, err = verify.Compare(ctx, cfg, regions, sampleTables)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range res.Diffs {
		got[d.Table+" "+d.Key] = d.Region + " " + d.Kind + " " + strings.Join(d.Columns, ",")
	}
	want := map[string]string{
		fmt.Sprintf("lending.users id=%d", ua):              "b different name",
		fmt.Sprintf("lending.loan_accounts id=%d", acctB):   "b different balance_cents,updated_at", // ON UPDATE CURRENT_TIMESTAMP
		fmt.Sprintf("lending.ledger_entries id=%d", entryA): "b missing ",
		"lending.ledger_entries id=999999":                  "b extra ",
	}
	if res.Equal() || res.DiffsTotal != 4 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drift found %d: %v\nwant %v", res.DiffsTotal, got, want)
	}

	// A scope judges only some rows: ua's rows differ, ub's drifted
	// account is out of scope.
	scoped := cfg
	scoped.Scope = func(table string, cols []string) string {
		if table == "lending.users" {
			return fmt.Sprintf("`id` = %d", ua)
		}
		if slices.Contains(cols, "user_id") {
			return fmt.Sprintf("`user_id` = %d", ua)
		}
		return ""
	}
	res, err = verify.Compare(ctx, scoped, regions, sampleTables)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, d := range res.Diffs {
		got[d.Table+" "+d.Key] = d.Region + " " + d.Kind + " " + strings.Join(d.Columns, ",")
	}
	delete(want, fmt.Sprintf("lending.loan_accounts id=%d", acctB))
	if res.Equal() || fmt.Sprint(got) != fmt.Sprint(want) || res.Tables[0].Rows != 1 {
		t.Fatalf("scoped to user %d found %v (users: %d rows), want %v", ua, got, res.Tables[0].Rows, want)
	}

	// The CLI prints the rows and exits 2.
	out, errOut, err := run(t, "verify", "--dir", st.Dir, "--chunk-size", "16", "--rechecks", "1", "--recheck-delay", "100ms")
	if code := exitCode(err); code != regionctl.ExitDiffers {
		t.Fatalf("verify with drift: exit %d (%v), want %d\n%s%s", code, err, regionctl.ExitDiffers, out, errOut)
	}
	for _, s := range []string{"lending.ledger_entries", fmt.Sprintf("users id=%d: different in b: name: a \"user-%d\", b \"drifted\"", ua, ua),
		fmt.Sprintf("id=%d: missing in b", entryA), "id=999999: extra in b", "4 row difference(s)"} {
		if !strings.Contains(out, s) {
			t.Errorf("verify output lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(errOut, "verify: table compared") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	// Repair from each row's owner, through the CLI.
	before := labapi.Statuses(t, st)
	out, errOut, err = run(t, "verify", "--dir", st.Dir, "--repair", "--json", "--chunk-size", "16", "--rechecks", "1", "--recheck-delay", "100ms")
	if err != nil {
		t.Fatalf("verify --repair: %v\n%s%s", err, out, errOut)
	}
	var rep regionctl.VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --repair --json printed %q: %v", out, err)
	}
	changes := map[string]string{}
	for _, c := range rep.Repair.Changes {
		changes[c.Table+" "+c.Key] = c.Region + " " + c.Action + " " + c.Authority
	}
	wantChanges := map[string]string{
		fmt.Sprintf("lending.users id=%d", ua):              "b update a",
		fmt.Sprintf("lending.loan_accounts id=%d", acctB):   "a update b",
		fmt.Sprintf("lending.ledger_entries id=%d", entryA): "b insert a",
		"lending.ledger_entries id=999999":                  "b delete a",
	}
	if !rep.Equal || rep.After == nil || !rep.After.Equal() || len(rep.Repair.Skipped) != 0 || fmt.Sprint(changes) != fmt.Sprint(wantChanges) {
		t.Fatalf("repair changed %v (skipped %v, equal %v), want %v", changes, rep.Repair.Skipped, rep.Equal, wantChanges)
	}
	sameChecksums(t, regions, sampleTables)
	// No echo: each region's capture reads past the repairs, counts each
	// repair transaction as a skipped echo, and publishes nothing; no
	// link applies anything.
	repairs := map[string]uint64{"a": 1, "b": 3}
	binlogPos := map[string]string{}
	for r, db := range map[string]*sql.DB{"a": a, "b": b} {
		var pos string
		if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		binlogPos[r] = pos
	}
	var after map[string]*api.Status
	waitFor(t, 30*time.Second, func() (bool, string) {
		after = labapi.Statuses(t, st)
		for r, pos := range binlogPos {
			if ok, err := binlog.Covers("mariadb", after[r].Capture.Published.Pos, pos); err != nil || !ok {
				return false, fmt.Sprintf("capture %s at %q, binlog at %q (%v)", r, after[r].Capture.Published.Pos, pos, err)
			}
		}
		return true, ""
	})
	for r, n := range repairs {
		if after[r].Capture.Txns != before[r].Capture.Txns || after[r].Links[0].AppliedSeq != before[r].Links[0].AppliedSeq {
			t.Errorf("region %s: capture published %d -> %d, link applied %d -> %d: the repair was replicated",
				r, before[r].Capture.Txns, after[r].Capture.Txns, before[r].Links[0].AppliedSeq, after[r].Links[0].AppliedSeq)
		}
		if got := after[r].Capture.Echoes - before[r].Capture.Echoes; got < n {
			t.Errorf("region %s: capture skipped %d echoes during the repair, want %d (one per repaired row)", r, got, n)
		}
	}
	var recorded int
	if err := b.QueryRow("SELECT COUNT(*) FROM " + verify.RepairsTable).Scan(&recorded); err != nil || recorded != 3 {
		t.Errorf("b records %d repairs (%v), want 3", recorded, err)
	}

	// A composite key, --from a region.
	bypass(t, b, "DELETE FROM lending.pairs WHERE k1 = 3 AND k2 = 'k2'", "UPDATE lending.pairs SET v = NULL WHERE k1 = 7 AND k2 = 'k1'")
	out, errOut, err = run(t, "verify", "--dir", st.Dir, "--tables", "lending.pairs", "--repair", "--from", "a", "--chunk-size", "7", "--rechecks", "0")
	if err != nil || !strings.Contains(out, "b: insert lending.pairs k1=3, k2=k2: k1=\"3\" k2=\"k2\" v=\"v\" [--from a]") ||
		!strings.Contains(out, "b: update lending.pairs k1=7, k2=k1: set v=\"v\" (was NULL)") || !strings.Contains(out, "identical in every region") {
		t.Errorf("verify --repair --from a: %v\n%s%s", err, out, errOut)
	}
	sameChecksums(t, regions, []string{"lending.pairs"})

	// A table without a primary key is compared as a multiset of rows:
	// one of two equal rows gone from b is found, and repair leaves it to
	// a person (it cannot tell equal rows apart).
	mustExec(t, a, "CREATE TABLE lending.nopk (x INT, note VARCHAR(10))", "INSERT INTO lending.nopk VALUES (1, 'a'), (1, 'a'), (2, NULL)")
	waitFor(t, 30*time.Second, func() (bool, string) {
		res, err := verify.Compare(ctx, cfg, regions, []string{"lending.nopk"})
		return err == nil && res.Equal(), fmt.Sprintf("lending.nopk not equal yet: %v %+v", err, res)
	})
	bypass(t, b, "DELETE FROM lending.nopk WHERE x = 1 LIMIT 1")
	res, err = verify.Compare(ctx, cfg, regions, []string{"lending.nopk"})
	if err != nil || res.Equal() || len(res.Diffs) != 1 || res.Diffs[0].Kind != verify.Missing || res.Diffs[0].Region != "b" || res.Diffs[0].Key != "x=1, note=a" {
		t.Errorf("table without a key, one of two equal rows gone in b: %v %+v", err, res)
	}
	if rr, err := verify.Repair(ctx, regions, res, verify.FromRegion("a")); err != nil || len(rr.Skipped) != 1 || !strings.Contains(rr.Skipped[0].Reason, "no primary key") {
		t.Errorf("repair of a table without a key: %v %+v", err, rr)
	}
	bypass(t, b, "INSERT INTO lending.nopk VALUES (1, 'a')")

	// A job appends to that table in a all along: at every read its
	// newest rows are on their way to b, and they are not reported; a
	// row made in b alone is.
	bypass(t, b, "INSERT INTO lending.nopk VALUES (99, 'drift')")
	jctx, stopJob := context.WithCancel(ctx)
	job := make(chan error, 1)
	go func() {
		var err error
		for i := 0; jctx.Err() == nil && err == nil && i < 2000; i++ {
			_, err = a.ExecContext(jctx, "INSERT INTO lending.nopk VALUES (?, 'job')", 1000+i)
			time.Sleep(5 * time.Millisecond)
		}
		job <- err
	}()
	time.Sleep(500 * time.Millisecond)
	res, err = verify.Compare(ctx, cfg, regions, []string{"lending.nopk"})
	stopJob()
	if jerr := <-job; jerr != nil && !errors.Is(jerr, context.Canceled) {
		t.Fatalf("the job: %v", jerr)
	}
	if err != nil || len(res.Diffs) != 1 || res.Diffs[0].Kind != verify.Extra || res.Diffs[0].Key != "x=99, note=drift" {
		t.Errorf("a table appended to while compared, one row made in b alone: %v %+v", err, res.Differences(5))
	}
	bypass(t, b, "DELETE FROM lending.nopk WHERE x = 99")

	// A local table (class: local) is each region's own: its rows stay
	// where they are written, and it is not compared.
	mustExec(t, a, "CREATE TABLE lending.scratch_a (id INT PRIMARY KEY)", "INSERT INTO lending.scratch_a VALUES (1), (2)")
	waitFor(t, 30*time.Second, func() (bool, string) {
		var n int
		err := b.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lending' AND TABLE_NAME = 'scratch_a'").Scan(&n)
		return err == nil && n == 1, fmt.Sprintf("b has not created lending.scratch_a (its schema change replicates): %v", err)
	})
	labapi.Converged(t, st, 30*time.Second)
	var scratch int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.scratch_a").Scan(&scratch); err != nil || scratch != 0 {
		t.Errorf("b holds %d rows of a's local table (%v), want none", scratch, err)
	}

	// The default tables: the replicated ones any region holds; a table
	// only b holds is reported missing in a.
	bypass(t, b, "CREATE TABLE lending.only_b (id INT PRIMARY KEY)")
	dep, err := config.Load(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tables, err := verify.ReplicatedTables(ctx, regions, dep.Replication)
	if want := "[lending.ledger_entries lending.loan_accounts lending.nopk lending.only_b lending.pairs lending.users]"; err != nil || fmt.Sprint(tables) != want {
		t.Errorf("replicated tables = %v %v, want %s", tables, err, want)
	}
	res, err = verify.Compare(ctx, cfg, regions, []string{"lending.only_b"})
	if err != nil || res.Equal() || res.Tables[0].Error != "region a: table lending.only_b does not exist" {
		t.Errorf("table only in b: %v %+v", err, res)
	}

	// Converge tries a table that cannot be compared again until its
	// deadline...
	t0 := time.Now()
	res, err = verify.Converge(ctx, cfg, regions, []string{"lending.only_b"}, time.Second)
	if err != nil || res.Equal() || !strings.Contains(res.Tables[0].Error, "does not exist") || time.Since(t0) < time.Second {
		t.Errorf("converge on a table only in b: %v %+v after %s", err, res, time.Since(t0))
	}
	// ... and returns once it can be compared and is equal: a table a
	// creates after the first attempt, then b.
	bypass(t, b, "CREATE TABLE lending.late (id INT PRIMARY KEY)", "INSERT INTO lending.late VALUES (1)")
	first := make(chan struct{})
	convCfg := cfg
	convCfg.Log = slog.New(signal{slog.NewTextHandler(testWriter{t}, nil), "verify: table compared", first})
	conv := make(chan error, 1)
	go func() {
		r, err := verify.Converge(ctx, convCfg, regions, []string{"lending.late"}, 30*time.Second)
		if err == nil && !r.Equal() {
			err = fmt.Errorf("not equal: %v", r.Differences(5))
		}
		conv <- err
	}()
	<-first
	bypass(t, a, "CREATE TABLE lending.late (id INT PRIMARY KEY)", "INSERT INTO lending.late VALUES (1)")
	if err := <-conv; err != nil {
		t.Errorf("converge on a table a created late: %v", err)
	}

	// Replication lag is re-checked, not reported: b's applier is down
	// while a writes, and comes back during the comparison.
	if err := lab.Kill(ctx, st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "INSERT INTO lending.pairs VALUES (100, 'lag', 'x')", "UPDATE lending.users SET name = 'renamed' WHERE id = 1")
	lagCfg := cfg
	lagCfg.Rechecks, lagCfg.RecheckDelay = 120, 500*time.Millisecond // up to 60 s for regiond to come back and apply
	type outcome struct {
		res *verify.Result
		err error
	}
	rechecking := make(chan struct{})
	lagCfg.Log = slog.New(signal{slog.NewTextHandler(testWriter{t}, nil), "verify: chunks differ, re-checking", rechecking})
	done := make(chan outcome, 1)
	go func() {
		r, err := verify.Compare(ctx, lagCfg, regions, []string{"lending.users", "lending.pairs"})
		done <- outcome{r, err}
	}()
	select { // the difference was seen before b can apply anything
	case <-rechecking:
	case o := <-done:
		t.Fatalf("compare ended before it re-checked: %+v %v", o.res, o.err)
	}
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	rechecked := 0
	for _, tr := range o.res.Tables {
		rechecked += tr.RecheckedChunks
	}
	if !o.res.Equal() || rechecked < 1 {
		t.Errorf("lag: equal %v, %d chunks re-checked (want at least 1): %+v", o.res.Equal(), rechecked, o.res)
	}
}

// signal is a slog handler that closes ch at the first record with msg.
type signal struct {
	slog.Handler
	msg string
	ch  chan struct{}
}

func (s signal) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == s.msg {
		select {
		case <-s.ch:
		default:
			close(s.ch)
		}
	}
	return s.Handler.Handle(ctx, r)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// userOf is a user of the workload whose home is region i.
func userOf(t *testing.T, st *lab.State, i int) int64 {
	t.Helper()
	for u := int64(1); u <= 40; u++ {
		if st.HomeRegion(u) == i {
			return u
		}
	}
	t.Fatalf("no user homed in region %d", i)
	return 0
}

// bypass runs statements in db with binary logging off for the session,
// so replication never sees them: drift.
func bypass(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range append([]string{"SET SESSION sql_log_bin = 0"}, qs...) {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Leave the pool no connection with binary logging off.
	if _, err := conn.ExecContext(context.Background(), "SET SESSION sql_log_bin = 1"); err != nil {
		t.Fatal(err)
	}
}

// sameChecksums checks CHECKSUM TABLE and the row count agree in every
// region: an oracle independent of the code under test, for the repairs.
func sameChecksums(t *testing.T, regions []verify.Region, tables []string) {
	t.Helper()
	for _, tb := range tables {
		var first string
		for i, r := range regions {
			var name string
			var sum sql.NullInt64
			var n int64
			if err := r.DB.QueryRow("CHECKSUM TABLE "+tb).Scan(&name, &sum); err != nil || !sum.Valid {
				t.Fatalf("region %s: CHECKSUM TABLE %s: %v (valid %v)", r.Name, tb, err, sum.Valid)
			}
			if err := r.DB.QueryRow("SELECT COUNT(*) FROM " + tb).Scan(&n); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("checksum %d, %d rows", sum.Int64, n)
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("%s: %s has %s, %s has %s", tb, regions[0].Name, first, r.Name, got)
			}
		}
	}
}

func openDB(t *testing.T, st *lab.State, region string) *sql.DB {
	t.Helper()
	r, _ := st.Region(region)
	db, err := lab.OpenMySQL(r.MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// run runs the real regionctl program.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e strings.Builder
	cmd := exec.Command(labtest.Bin().Regionctl, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.Env = append(os.Environ(), "REGIONCTL_CONFIG=", "REGIONCTL_TOKEN=")
	err = cmd.Run()
	return o.String(), e.String(), err
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not so after %s: %s", timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRepairGeneratedColumnsAndForeignKeys: a region whose loan was
// deleted behind replication's back (its installments went with it, by
// ON DELETE CASCADE) and another loan's principal changed is repaired
// from a: the loan is written again without its generated total (the
// server computes it; a value for it is refused), and its installments
// although b's foreign key checks would refuse them before their loan,
// whatever order the tables are repaired in.
func TestRepairGeneratedColumnsAndForeignKeys(t *testing.T) {
	ctx := context.Background()
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a"), openDB(t, st, "b")
	mustExec(t, a, "CREATE DATABASE lending",
		`CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, principal_cents BIGINT NOT NULL, interest_cents BIGINT NOT NULL,
			total_cents BIGINT AS (principal_cents + interest_cents) STORED)`,
		`CREATE TABLE lending.installments (id BIGINT PRIMARY KEY, loan_id BIGINT NOT NULL, due_cents BIGINT NOT NULL,
			FOREIGN KEY (loan_id) REFERENCES lending.loans (id) ON DELETE CASCADE)`,
		"INSERT INTO lending.loans (id, principal_cents, interest_cents) VALUES (1, 1000, 50), (2, 2000, 90)",
		"INSERT INTO lending.installments VALUES (10, 1, 525), (11, 1, 525), (20, 2, 1045)")
	labapi.Converged(t, st, 60*time.Second)
	bypass(t, b, "DELETE FROM lending.loans WHERE id = 1", "UPDATE lending.loans SET principal_cents = 1 WHERE id = 2")
	regions := []verify.Region{{Name: "a", DB: a}, {Name: "b", DB: b}}
	cfg := verify.DefaultConfig()
	cfg.Rechecks = 0
	tables := []string{"lending.installments", "lending.loans"} // children first
	res, err := verify.Compare(ctx, cfg, regions, tables)
	if err != nil {
		t.Fatal(err)
	}
	if res.DiffsTotal != 4 {
		t.Fatalf("%d differences, want 4 (two installments and loan 1 missing, loan 2 different): %+v", res.DiffsTotal, res.Diffs)
	}
	rr, err := verify.Repair(ctx, regions, res, verify.FromRegion("a"))
	if err != nil || len(rr.Skipped) != 0 || len(rr.Changes) != 4 {
		t.Fatalf("repair: %v, %+v", err, rr)
	}
	if res, err = verify.Compare(ctx, cfg, regions, tables); err != nil || !res.Equal() {
		t.Fatalf("after the repair: %v %+v", err, res)
	}
}
