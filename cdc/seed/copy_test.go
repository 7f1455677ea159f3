package seed_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/lab/labtest"
)

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// The application's shapes: a table with a secondary unique key, money
// as DECIMAL, a latin1 column with accents, a generated column, a BLOB,
// a table without a primary key; and the platform's state of those keys.
const schemaSQL = `CREATE DATABASE app;
CREATE TABLE app.accounts (
	id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, ref VARCHAR(40) NOT NULL,
	balance DECIMAL(14,2) NOT NULL, n INT NOT NULL DEFAULT 0,
	note VARCHAR(40) CHARACTER SET latin1 NULL, doubled DECIMAL(14,2) AS (balance * 2) VIRTUAL,
	receipt BLOB NULL, updated TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY (ref)) ENGINE=InnoDB;
CREATE TABLE app.audit (user_id BIGINT NOT NULL, msg VARCHAR(64) NOT NULL) ENGINE=InnoDB`

// TestCopyIsItsSnapshot copies two tables while the donor's application
// keeps inserting and updating in transactions that touch both, and
// checks that each copy holds exactly the transactions its recorded GTID
// position contains: no more, no fewer.
func TestCopyIsItsSnapshot(t *testing.T) {
	ctx := context.Background()
	donor, dst := labtest.MariaDB(t), labtest.MariaDBWithID(t, 2)
	mustExec(t, donor, strings.Split(schemaSQL, ";\n")...)
	if err := apply.EnsureSchema(ctx, donor); err != nil {
		t.Fatal(err)
	}
	if err := apply.EnsureSchema(ctx, dst); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustExec(t, donor, fmt.Sprintf("INSERT INTO app.accounts (id, user_id, ref, balance, note, receipt) VALUES (%d, %d, 'r%d', 100.50, 'Pérez %d', X'00ff%02x')", i, i%40, i, i, i%256))
	}
	// The donor had applied b's partition 0 up to offset 41, and holds a
	// tombstone of one key; the target holds a stale claim of another.
	mustExec(t, donor,
		`INSERT INTO _region.apply_checkpoints (source, part, kafka_offset, seq, pos, gtid, source_time, applied_at) VALUES ('b', 0, 41, 9, '2-2-9', '2-2-9', '2026-12-01 10:00:00.123456', UTC_TIMESTAMP(6))`,
		`INSERT INTO _region.tombstones (db, tbl, pk_md5, origin, pk, version, gtid, row_md5, deleted_at) VALUES ('app', 'accounts', UNHEX(MD5('x')), 'a', '[999]', 'v', '1-1-5', UNHEX(MD5('y')), UTC_TIMESTAMP(6))`)
	mustExec(t, dst, `INSERT INTO _region.claims (db, tbl, pk_md5, origin, pk, version, epoch, cell, gtid, recorded_at) VALUES ('app', 'accounts', UNHEX(MD5('z')), 'b', '[5]', 'v', 1, 'b1', '2-2-1', UTC_TIMESTAMP(6))`)
	var before string
	if err := dst.QueryRow("SELECT @@gtid_binlog_pos").Scan(&before); err != nil {
		t.Fatal(err)
	}

	// The application: each transaction updates one account and inserts
	// another, and appends to the audit table; its GTID is noted.
	type op struct {
		gtid     string
		upd, ins int
	}
	var (
		mu   sync.Mutex
		ops  []op
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		conn, err := donor.Conn(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; !stop.Load() && i < 5000; i++ {
			o := op{upd: rng.IntN(300), ins: 1000 + i}
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			_, err1 := tx.Exec("UPDATE app.accounts SET balance = balance + 1, n = n + 1 WHERE id = ?", o.upd)
			_, err2 := tx.Exec("INSERT INTO app.accounts (id, user_id, ref, balance) VALUES (?, 7, ?, 1)", o.ins, fmt.Sprint("new", o.ins))
			_, err3 := tx.Exec("INSERT INTO app.audit VALUES (7, ?)", fmt.Sprint("op ", i))
			if err := tx.Commit(); err1 != nil || err2 != nil || err3 != nil || err != nil {
				t.Errorf("workload: %v %v %v %v", err1, err2, err3, err)
				return
			}
			if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&o.gtid); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ops = append(ops, o)
			mu.Unlock()
		}
	})
	waitOps := func(n int) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			k := len(ops)
			mu.Unlock()
			if k >= n {
				return
			}
		}
		t.Fatalf("the workload did not reach %d transactions", n)
	}
	waitOps(20)

	cfg := seed.DefaultConfig()
	cfg.Donor, cfg.DonorDB, cfg.Target, cfg.TargetDB = "a", donor, "c", dst
	cfg.Tables, cfg.Batch = []string{"app.accounts", "app.audit"}, 50
	var progress []seed.Progress
	cfg.Progress = func(p seed.Progress) { progress = append(progress, p) }
	// The application goes on between batches, so every snapshot is
	// overtaken while it is copied.
	cfg.Throttle = func(ctx context.Context) error { time.Sleep(3 * time.Millisecond); return nil }
	c, err := seed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Positions.GTID == res[1].Positions.GTID {
		t.Fatalf("results %+v: want two copies at different positions", res)
	}
	t.Logf("accounts copied at %s (%d rows), audit at %s (%d rows), %d transactions written meanwhile",
		res[0].Positions.GTID, res[0].Rows, res[1].Positions.GTID, res[1].Rows, len(ops))

	// Expected: the transactions each copy's position contains.
	in := func(gtid, pos string) bool {
		ok, err := binlog.Covers("mariadb", pos, gtid)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	wantN, wantRows, wantAudit := map[int]int{}, 300, 0
	for _, o := range ops {
		if in(o.gtid, res[0].Positions.GTID) {
			wantN[o.upd]++
			wantRows++
		}
		if in(o.gtid, res[1].Positions.GTID) {
			wantAudit++
		}
	}
	if wantRows == 300 || wantRows == 300+len(ops) {
		t.Fatalf("the accounts copy holds %d of %d transactions: the test did not copy while writing", wantRows-300, len(ops))
	}
	var rows, audit int
	if err := dst.QueryRow("SELECT COUNT(*) FROM app.accounts").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := dst.QueryRow("SELECT COUNT(*) FROM app.audit").Scan(&audit); err != nil {
		t.Fatal(err)
	}
	if rows != wantRows || audit != wantAudit || res[0].Rows != int64(rows) || res[1].Rows != int64(audit) {
		t.Errorf("target holds %d accounts and %d audit rows (reported %d, %d); the positions contain %d and %d", rows, audit, res[0].Rows, res[1].Rows, wantRows, wantAudit)
	}
	got, err := dst.Query("SELECT id, n, balance, note, HEX(receipt), doubled FROM app.accounts WHERE id < 300 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for got.Next() {
		var id, n int
		var bal, note, receipt, doubled sql.NullString
		if err := got.Scan(&id, &n, &bal, &note, &receipt, &doubled); err != nil {
			t.Fatal(err)
		}
		wantBal := fmt.Sprintf("%.2f", 100.50+float64(wantN[id]))
		if n != wantN[id] || bal.String != wantBal || note.String != fmt.Sprintf("Pérez %d", id) || receipt.String != fmt.Sprintf("00FF%02X", id%256) {
			t.Errorf("account %d: n=%d balance=%s note=%q receipt=%s; want n=%d balance=%s", id, n, bal.String, note.String, receipt.String, wantN[id], wantBal)
		}
		if doubled.String == "" {
			t.Errorf("account %d: the generated column is empty", id)
		}
	}
	got.Close()

	// Positions, platform state, and nothing in the target's binlog.
	if cp := res[0].Positions.Inbound["b"][0]; cp.Offset != 41 || cp.Seq != 9 || !cp.SourceTime.Equal(time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)) {
		t.Errorf("inbound checkpoint of b/0 = %+v; want offset 41, seq 9, sent 10:00:00.123456", cp)
	}
	var tomb, claims int
	_ = dst.QueryRow("SELECT COUNT(*) FROM _region.tombstones WHERE db = 'app' AND tbl = 'accounts' AND pk = '[999]'").Scan(&tomb)
	_ = dst.QueryRow("SELECT COUNT(*) FROM _region.claims WHERE db = 'app' AND tbl = 'accounts'").Scan(&claims)
	if tomb != 1 || claims != 0 {
		t.Errorf("target's tombstones of the copied key %d (want 1), stale claims %d (want 0)", tomb, claims)
	}
	var after string
	if err := dst.QueryRow("SELECT @@gtid_binlog_pos").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the copy reached the target's binlog (%q -> %q): its capture would publish it", before, after)
	}
	recs, err := seed.Records(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].State != seed.StateDone || recs[1].State != seed.StateDone || recs[0].DoneAt.IsZero() {
		t.Errorf("records %+v: want both done", recs)
	}
	last := progress[len(progress)-1]
	if !last.Done || last.Table != "app.audit" || last.Copied != int64(audit) {
		t.Errorf("last progress %+v", last)
	}
}

// TestCopyResumes interrupts a copy in its second table: the first stays
// copied with its positions, links refuse to start on the partial table,
// and the same copy run again finishes it without copying the first again.
func TestCopyResumes(t *testing.T) {
	ctx := context.Background()
	donor, dst := labtest.MariaDB(t), labtest.MariaDBWithID(t, 2)
	mustExec(t, donor, strings.Split(schemaSQL, ";\n")...)
	for i := range 2000 {
		mustExec(t, donor, fmt.Sprintf("INSERT INTO app.audit VALUES (%d, 'm%d')", i%10, i))
	}
	mustExec(t, donor, "INSERT INTO app.accounts (id, user_id, ref, balance) VALUES (1, 1, 'r1', 5)",
		"CREATE TRIGGER app.accounts_note BEFORE INSERT ON app.accounts FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'by trigger')")
	cfg := seed.DefaultConfig()
	cfg.Donor, cfg.DonorDB, cfg.Target, cfg.TargetDB = "a", donor, "c", dst
	cfg.Tables, cfg.Batch = []string{"app.accounts", "app.audit"}, 100
	run1, cancel := context.WithCancel(ctx)
	cfg.Progress = func(p seed.Progress) {
		if p.Table == "app.audit" && p.Copied >= 500 {
			cancel() // the process dies midway
		}
	}
	c, err := seed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Run(run1)
	if err == nil || len(first) != 1 {
		t.Fatalf("interrupted run: %v, %+v; want an error after accounts", err, first)
	}
	recs, err := seed.Records(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.NewPlan(recs); err == nil || !strings.Contains(err.Error(), "app.audit") {
		t.Errorf("a plan over a partial copy: %v; want an error naming app.audit", err)
	}
	mustExec(t, donor, "UPDATE app.accounts SET balance = 6 WHERE id = 1")

	cfg.Progress = nil
	c, err = seed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !second[0].Earlier || second[0].Positions.GTID != first[0].Positions.GTID || second[1].Earlier || second[1].Rows != 2000 {
		t.Errorf("second run %+v: want accounts kept at %s, audit copied whole", second, first[0].Positions.GTID)
	}
	var bal string
	var n int
	_ = dst.QueryRow("SELECT balance FROM app.accounts WHERE id = 1").Scan(&bal)
	_ = dst.QueryRow("SELECT COUNT(*) FROM app.audit").Scan(&n)
	if bal != "5.00" || n != 2000 {
		t.Errorf("target: balance %s (want the kept copy's 5.00: the update is for the link to apply), audit rows %d (want 2000)", bal, n)
	}
	// The donor's trigger is there, and did not fire for the copied row.
	var note sql.NullString
	_ = dst.QueryRow("SELECT note FROM app.accounts WHERE id = 1").Scan(&note)
	mustExec(t, dst, "INSERT INTO app.accounts (id, user_id, ref, balance) VALUES (2, 1, 'r2', 1)")
	var fired string
	_ = dst.QueryRow("SELECT note FROM app.accounts WHERE id = 2").Scan(&fired)
	if note.Valid || fired != "by trigger" {
		t.Errorf("trigger: the copied row's note %v (want NULL: the copy fires no trigger), a new row's %q (want the donor's trigger to set it)", note, fired)
	}
	recs, _ = seed.Records(ctx, dst)
	if p, err := seed.NewPlan(recs); err != nil || p == nil {
		t.Errorf("plan after the finished copy: %v", err)
	}
}

// TestCopyIntoANewServerOnMariaDB: a region being added has never run a
// regiond, so its MySQL has none of the platform's tables; the copy
// brings the copied keys' tombstones and claims in tables made as the
// donor's.
func TestCopyIntoANewServerOnMariaDB(t *testing.T) {
	ctx := context.Background()
	donor, dst := labtest.MariaDB(t), labtest.MariaDBWithID(t, 3)
	mustExec(t, donor, strings.Split(schemaSQL, ";\n")...)
	if err := apply.EnsureSchema(ctx, donor); err != nil {
		t.Fatal(err)
	}
	mustExec(t, donor,
		"INSERT INTO app.accounts (id, user_id, ref, balance) VALUES (1, 1, 'r1', 5)",
		`INSERT INTO _region.tombstones (db, tbl, pk_md5, origin, pk, version, gtid, row_md5, deleted_at) VALUES ('app', 'accounts', UNHEX(MD5('x')), 'a', '[999]', 'v', '1-1-5', UNHEX(MD5('y')), UTC_TIMESTAMP(6))`,
		`INSERT INTO _region.claims (db, tbl, pk_md5, origin, pk, version, epoch, cell, gtid, recorded_at) VALUES ('app', 'accounts', UNHEX(MD5('[1]')), 'a', '[1]', 'v', 1, 'a1', '1-1-4', UTC_TIMESTAMP(6))`)
	cfg := seed.DefaultConfig()
	cfg.Donor, cfg.DonorDB, cfg.Target, cfg.TargetDB, cfg.Tables = "a", donor, "c", dst, []string{"app.accounts"}
	c, err := seed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx); err != nil {
		t.Fatalf("copy into a server without the platform's tables: %v", err)
	}
	var tomb, claims int
	if err := dst.QueryRow("SELECT (SELECT COUNT(*) FROM _region.tombstones WHERE pk = '[999]'), (SELECT COUNT(*) FROM _region.claims WHERE pk = '[1]')").Scan(&tomb, &claims); err != nil {
		t.Fatal(err)
	}
	if tomb != 1 || claims != 1 {
		t.Errorf("the new server holds %d tombstones and %d claims of the copied key; want 1 and 1", tomb, claims)
	}
	// The platform's own schema set-up accepts the tables the copy made.
	if err := apply.EnsureSchema(ctx, dst); err != nil {
		t.Fatal(err)
	}
}
