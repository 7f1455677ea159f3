package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// The transaction shapes applications produce, each written in region a
// and checked identical in b: the replication core must not assume one
// user per transaction, primary keys only or no savepoints.

// TestSavepointsReplicate: a transaction with savepoints, one of them
// rolled back to, arrives whole: every row it committed, none it undid,
// and the transaction after it too (an ORM's nested transaction).
func TestSavepointsReplicate(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO lending.ledger_entries VALUES (100, 1, 100)",
		"SAVEPOINT s1",
		"INSERT INTO lending.ledger_entries VALUES (101, 1, 101)",
		"SAVEPOINT s2",
		"INSERT INTO lending.ledger_entries VALUES (102, 2, 102)",
		"ROLLBACK TO SAVEPOINT s2",
		"INSERT INTO lending.ledger_entries VALUES (103, 3, 103)",
		"RELEASE SAVEPOINT s1",
		"UPDATE lending.ledger_entries SET amount_cents = 1000 WHERE id = 100",
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "INSERT INTO lending.ledger_entries VALUES (104, 4, 104)")
	labapi.Converged(t, st, time.Minute)
	b := openDB(t, st, "b", "")
	var n, sum int64
	if err := b.QueryRow("SELECT COUNT(*), SUM(id) FROM lending.ledger_entries").Scan(&n, &sum); err != nil || n != 4 || sum != 100+101+103+104 {
		t.Errorf("b has %d rows with ids summing to %d (%v); want 100, 101, 103 and 104", n, sum, err)
	}
	sameTables(t, st, "lending.ledger_entries")
}

// TestNarrowerColumnHalts: a value the target's column cannot hold (b's
// column is narrower than a's) halts the link with the table, the column
// and both types named; nothing is stored truncated. Once the operator
// widens the column and retries the link (regionctl link retry), the row
// arrives whole.
func TestNarrowerColumnHalts(t *testing.T) {
	ctx := context.Background()
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.users (id BIGINT PRIMARY KEY, email VARCHAR(50) NOT NULL)",
		"INSERT INTO lending.users VALUES (1, 'a@x')")
	labapi.Converged(t, st, time.Minute)
	unlogged(t, b, "ALTER TABLE lending.users MODIFY email VARCHAR(5) NOT NULL")
	mustExec(t, a, "INSERT INTO lending.users VALUES (2, 'bob@example.com')")

	halt := haltedLink(t, st, "b", time.Minute, "a value b's column cannot hold")
	for _, want := range []string{"table lending.users, column email", "source type varchar", "type varchar(5)", "regionctl link retry 'a->b'"} {
		if !strings.Contains(halt, want) {
			t.Errorf("halt reason %q does not say %q", halt, want)
		}
	}
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.users WHERE id = 2").Scan(&n); err != nil || n != 0 {
		t.Errorf("b stored row 2 (%d rows, %v): it must not be stored differently", n, err)
	}

	unlogged(t, b, "ALTER TABLE lending.users MODIFY email VARCHAR(50) NOT NULL")
	if ra, err := linkClient(t, st, "b").RetryLink(ctx, "a", api.RetryRequest{Reason: "widened lending.users.email"}); err != nil || len(ra.Partitions) != 1 {
		t.Fatalf("retry: %+v %v", ra, err)
	}
	labapi.Converged(t, st, time.Minute)
	var email string
	if err := b.QueryRow("SELECT email FROM lending.users WHERE id = 2").Scan(&email); err != nil || email != "bob@example.com" {
		t.Errorf("after the fix b has %q (%v)", email, err)
	}
	sameTables(t, st, "lending.users")
}

// TestUniqueKeyCollisionIsAConflict: b holds (11, x) that a does not know
// yet, and a inserts (10, x) under a UNIQUE email. Neither region
// rewrites its row into the other's (an upsert did: b's row 11 became
// row 10): both links halt, each logs the conflict with both rows.
func TestUniqueKeyCollisionIsAConflict(t *testing.T) {
	ctx := context.Background()
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.users (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL, version BIGINT NOT NULL DEFAULT 1, UNIQUE KEY email (email))",
		"INSERT INTO lending.users (id, email) VALUES (1, 'ann@example.com')")
	labapi.Converged(t, st, time.Minute)
	restartRegiond(t, st, false, "a") // a neither captures nor applies for a while
	mustExec(t, b, "INSERT INTO lending.users (id, email) VALUES (11, 'x@example.com')")
	mustExec(t, a, "INSERT INTO lending.users (id, email) VALUES (10, 'x@example.com')")
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "a", "regiond"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a", "b"} {
		if why := haltedLink(t, st, r, time.Minute, "a unique key collision"); !strings.Contains(why, "unique key email") {
			t.Errorf("the link into %s halted for another reason: %s", r, why)
		}
	}
	for name, db := range map[string]*sql.DB{"a": a, "b": b} {
		var ids []int64
		rows, err := db.Query("SELECT id FROM lending.users WHERE email = 'x@example.com'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		want := map[string]int64{"a": 10, "b": 11}[name]
		if len(ids) != 1 || ids[0] != want {
			t.Errorf("region %s holds x@example.com in rows %v, want only its own row %d", name, ids, want)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'users' AND reason LIKE 'unique key email:%' AND local_image IS NOT NULL AND incoming_after IS NOT NULL").Scan(&n); err != nil || n == 0 {
			t.Errorf("region %s logged no unique key conflict with both rows (%d, %v)", name, n, err)
		}
	}
}

// TestStatementShapes: statements applications and their migrations run,
// written in a and checked identical in b: CREATE TABLE ... SELECT,
// TRUNCATE, RENAME TABLE, a transaction that also writes a database
// replication leaves out, and one of many small rows.
func TestStatementShapes(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending", "CREATE DATABASE scratch",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"INSERT INTO lending.loans VALUES (1, 1, 100), (2, 2, 200), (3, 3, 300)")
	labapi.Converged(t, st, time.Minute)

	mustExec(t, a, "CREATE TABLE lending.big_loans (PRIMARY KEY (id)) SELECT id, user_id, amount_cents FROM lending.loans WHERE amount_cents >= 200")
	mustExec(t, a, "CREATE TABLE lending.loans_tmp LIKE lending.loans", "INSERT INTO lending.loans_tmp SELECT * FROM lending.loans", "TRUNCATE TABLE lending.loans_tmp")
	mustExec(t, a, "CREATE TABLE lending.old_name (id BIGINT PRIMARY KEY)", "INSERT INTO lending.old_name VALUES (7)", "RENAME TABLE lending.old_name TO lending.new_name")
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS scratch.notes (id BIGINT PRIMARY KEY, note VARCHAR(20))",
	} {
		if _, err := a.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		"INSERT INTO lending.loans VALUES (4, 4, 400)",
		"INSERT INTO scratch.notes VALUES (1, 'not replicated')",
		"UPDATE lending.loans SET amount_cents = 401 WHERE id = 4",
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "INSERT INTO lending.loans (id, user_id, amount_cents) SELECT 1000 + seq, seq, seq FROM lending.seq_1_to_5000")
	labapi.Converged(t, st, 2*time.Minute)
	sameTables(t, st, "lending.loans", "lending.big_loans", "lending.loans_tmp", "lending.new_name")
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'lending' AND table_name = 'old_name'").Scan(&n); err != nil || n != 0 {
		t.Errorf("b still has lending.old_name (%d, %v)", n, err)
	}
	if err := b.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'scratch'").Scan(&n); err != nil || n != 0 {
		t.Errorf("b has the database replication leaves out (%d, %v)", n, err)
	}
}

// TestTableWithoutPrimaryKey: a table without a primary key replicates as
// MySQL's own replica does it, each row matched by every column: equal
// rows, NULLs, an update and a delete of one of two equal rows. A write
// to a keyed table after it arrives too (such a table used to stop the
// whole region's capture). The table is listed with conflict overwrite;
// left to the reject default, which needs a key, it is refused.
func TestTableWithoutPrimaryKey(t *testing.T) {
	ctx := context.Background()
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: "lending.audit_log", Conflict: config.ConflictOverwrite}}}, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.audit_log (user_id BIGINT NOT NULL, action VARCHAR(20) NOT NULL, note VARCHAR(40) NULL, amount DECIMAL(12,2) NULL)",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	inTxn(t, a,
		"INSERT INTO lending.audit_log VALUES (1, 'login', NULL, NULL), (1, 'login', NULL, NULL), (2, 'pay', 'card', 10.50)",
		"INSERT INTO lending.audit_log VALUES (3, 'pay', 'bank', 99.99)",
		"INSERT INTO lending.ledger_entries VALUES (1, 1, 100)")
	mustExec(t, a,
		"UPDATE lending.audit_log SET note = 'mfa' WHERE user_id = 1 LIMIT 1",
		"DELETE FROM lending.audit_log WHERE user_id = 1 AND note IS NULL",
		"UPDATE lending.audit_log SET amount = amount + 1 WHERE action = 'pay'",
		"INSERT INTO lending.audit_log SELECT user_id, 'copy', note, amount FROM lending.audit_log",
		"INSERT INTO lending.ledger_entries VALUES (2, 2, 200)")
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.audit_log", "lending.ledger_entries")
	b := openDB(t, st, "b", "")
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.audit_log").Scan(&n); err != nil || n != 6 {
		t.Errorf("b has %d audit rows (%v), want 6", n, err)
	}

	dep, err := config.Load(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := apply.CheckTables(ctx, a, dep.Replication); err != nil || len(problems) != 0 {
		t.Errorf("listed with conflict overwrite: %v %q", err, problems)
	}
	dep.Replication.Tables = slices.DeleteFunc(dep.Replication.Tables, func(tb config.Table) bool { return tb.Name == "lending.audit_log" })
	problems, err := apply.CheckTables(ctx, a, dep.Replication)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "lending.audit_log has no primary key") || !strings.Contains(problems[0], "replication.default_conflict") {
		t.Errorf("a policy that needs a key: %v %q", err, problems)
	}
	// A home-cell-wins table without its version column.
	mustExec(t, a, "CREATE TABLE lending.users (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL)")
	problems, err = apply.CheckTables(ctx, a, dep.Replication)
	if err != nil || len(problems) != 2 || !strings.Contains(problems[1], "lending.users has no column version") || !strings.Contains(problems[1], "version_column") {
		t.Errorf("a versioned policy without its column: %v %q", err, problems)
	}
}

// TestGeneratedColumns: a loan's total is a STORED generated column and
// its label a VIRTUAL one with a unique key; an audit table without a
// primary key has one too. The binlog carries their values, which the
// target refuses (error 1906): the applier leaves them out and the target
// computes them. Written in both regions, in transactions that insert,
// update and delete.
func TestGeneratedColumns(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: "lending.loan_events", Conflict: config.ConflictOverwrite}}}, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		`CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, principal_cents BIGINT NOT NULL, interest_cents BIGINT NOT NULL,
			total_cents BIGINT AS (principal_cents + interest_cents) STORED,
			label VARCHAR(24) AS (CONCAT('L-', id)) VIRTUAL, UNIQUE KEY uq_label (label))`,
		`CREATE TABLE lending.loan_events (loan_id BIGINT NOT NULL, kind VARCHAR(12) NOT NULL, cents BIGINT NOT NULL,
			signed_cents BIGINT AS (IF(kind = 'repay', -cents, cents)) VIRTUAL)`)
	labapi.Converged(t, st, time.Minute)
	for _, w := range []struct {
		db   *sql.DB
		base int
	}{{a, 0}, {b, 100}} {
		inTxn(t, w.db,
			fmt.Sprintf("INSERT INTO lending.loans (id, user_id, principal_cents, interest_cents) VALUES (%d, 1, 1000, 50), (%d, 2, 2000, 90), (%d, 3, 500, 10)", w.base+1, w.base+2, w.base+3),
			fmt.Sprintf("INSERT INTO lending.loan_events (loan_id, kind, cents) VALUES (%d, 'open', 1000), (%d, 'repay', 200)", w.base+1, w.base+1))
		inTxn(t, w.db,
			fmt.Sprintf("UPDATE lending.loans SET principal_cents = principal_cents - 200 WHERE id = %d", w.base+1),
			fmt.Sprintf("UPDATE lending.loans SET id = %d WHERE id = %d", w.base+20, w.base+2),
			fmt.Sprintf("DELETE FROM lending.loans WHERE id = %d", w.base+3),
			fmt.Sprintf("UPDATE lending.loan_events SET cents = 250 WHERE loan_id = %d AND kind = 'repay'", w.base+1))
	}
	labapi.Converged(t, st, time.Minute)
	var total int64
	var label string
	if err := b.QueryRow("SELECT total_cents, label FROM lending.loans WHERE id = 20").Scan(&total, &label); err != nil || total != 2090 || label != "L-20" {
		t.Errorf("b's loan 20: total %d, label %q (%v); want 2090, L-20", total, label, err)
	}
	sameTables(t, st, "lending.loans", "lending.loan_events")
}

// TestLargeRowsAndManyRows: a row larger than a Kafka message (a 6 MB
// document in a LONGBLOB) and a transaction of 20,000 small rows both
// arrive whole; a row over the limit used to stop the region's capture.
func TestLargeRowsAndManyRows(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.documents (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, body LONGBLOB NOT NULL)",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	doc := make([]byte, 6<<20)
	for i := range doc {
		doc[i] = byte(i*7 + i/251)
	}
	if _, err := a.Exec("INSERT INTO lending.documents VALUES (1, 7, ?)", doc); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "INSERT INTO lending.ledger_entries SELECT seq, seq % 100, seq * 3 FROM lending.seq_1_to_20000",
		"UPDATE lending.documents SET body = CONCAT(body, 'signed') WHERE id = 1",
		"INSERT INTO lending.ledger_entries VALUES (0, 0, 0)")
	labapi.Converged(t, st, 2*time.Minute)
	sameTables(t, st, "lending.documents", "lending.ledger_entries")
	var n int
	if err := openDB(t, st, "b", "").QueryRow("SELECT LENGTH(body) FROM lending.documents WHERE id = 1").Scan(&n); err != nil || n != len(doc)+len("signed") {
		t.Errorf("b's document is %d bytes (%v), want %d", n, err, len(doc)+len("signed"))
	}
}

// unlogged runs qs in db on one connection without the binlog: what an
// operator changes in one region only.
func unlogged(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The connection goes back to db's pool: log again when done.
	for _, q := range append(append([]string{"SET SESSION sql_log_bin = 0"}, qs...), "SET SESSION sql_log_bin = 1") {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// linkClient is a client of region's regiond.
func linkClient(t *testing.T, st *lab.State, region string) *client.Client {
	t.Helper()
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := st.Region(region)
	return &client.Client{BaseURL: r.APIURL(), Token: tok}
}

// TestTriggersDoNotActTwice: a's trigger writes an audit row for every
// ledger entry, and that row arrives in b with the entry. b's copy of the
// trigger is guarded (IF @region_apply IS NULL), so it does not write a
// second one. An unguarded trigger in b halts the link, naming the
// trigger and the guard, instead of writing what a's trigger already
// wrote; once it is guarded, a retry applies the rest.
func TestTriggersDoNotActTwice(t *testing.T) {
	ctx := context.Background()
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"CREATE TABLE lending.ledger_audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, entry_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"CREATE TABLE lending.payments (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	labapi.Converged(t, st, time.Minute)
	guarded := "CREATE TRIGGER lending.audit_entry AFTER INSERT ON lending.ledger_entries FOR EACH ROW BEGIN " +
		"IF @region_apply IS NULL THEN INSERT INTO lending.ledger_audit (entry_id, amount_cents) VALUES (NEW.id, NEW.amount_cents); END IF; END"
	unlogged(t, a, guarded)
	unlogged(t, b, guarded)
	inTxn(t, a, "INSERT INTO lending.ledger_entries VALUES (1, 7, 100)", "INSERT INTO lending.ledger_entries VALUES (2, 8, 200)")
	labapi.Converged(t, st, time.Minute)
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.ledger_audit").Scan(&n); err != nil || n != 2 {
		t.Errorf("b has %d audit rows (%v), want the 2 a's trigger wrote", n, err)
	}
	sameTables(t, st, "lending.ledger_entries", "lending.ledger_audit")

	// An unguarded trigger in b: the link halts before it can act.
	unlogged(t, b, "CREATE TRIGGER lending.audit_payment AFTER INSERT ON lending.payments FOR EACH ROW "+
		"INSERT INTO lending.ledger_audit (entry_id, amount_cents) VALUES (-NEW.id, NEW.amount_cents)")
	dep, err := config.Load(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := apply.CheckTables(ctx, b, dep.Replication); err != nil || len(problems) != 1 || !strings.Contains(problems[0], "trigger audit_payment on lending.payments") {
		t.Errorf("config check of b's tables: %v %q", err, problems)
	}
	mustExec(t, a, "INSERT INTO lending.payments VALUES (1, 7, 50)")
	halt := haltedLink(t, st, "b", time.Minute, "an unguarded trigger")
	for _, want := range []string{"trigger audit_payment on lending.payments", "IF @region_apply IS NULL THEN", "regionctl link retry 'a->b'"} {
		if !strings.Contains(halt, want) {
			t.Errorf("halt reason %q does not say %q", halt, want)
		}
	}
	unlogged(t, b, "DROP TRIGGER lending.audit_payment", "CREATE TRIGGER lending.audit_payment AFTER INSERT ON lending.payments FOR EACH ROW BEGIN "+
		"IF @region_apply IS NULL THEN INSERT INTO lending.ledger_audit (entry_id, amount_cents) VALUES (-NEW.id, NEW.amount_cents); END IF; END")
	if _, err := linkClient(t, st, "b").RetryLink(ctx, "a", api.RetryRequest{Reason: "guarded lending.audit_payment"}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.payments", "lending.ledger_audit")
}

// TestXAAndLoadData: XA transactions (what a JTA coordinator runs)
// replicate when they commit, not when they prepare, and one rolled back
// after its prepare never arrives; a committed one arrives whole even
// when other transactions commit between its prepare and its commit.
// LOAD DATA arrives as the rows it loaded.
func TestXAAndLoadData(t *testing.T) {
	ctx := context.Background()
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	xa, err := a.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer xa.Close()
	run := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := xa.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	run("XA START 'pay-1'", "INSERT INTO lending.ledger_entries VALUES (1, 7, 100), (2, 7, -100)", "XA END 'pay-1'", "XA PREPARE 'pay-1'")
	mustExec(t, a, "INSERT INTO lending.ledger_entries VALUES (3, 8, 300)") // between the prepare and the commit
	run("XA COMMIT 'pay-1'")
	run("XA START 'pay-2'", "INSERT INTO lending.ledger_entries VALUES (4, 9, 400)", "XA END 'pay-2'", "XA PREPARE 'pay-2'", "XA ROLLBACK 'pay-2'")
	run("XA START 'pay-3'", "INSERT INTO lending.ledger_entries VALUES (5, 9, 500)", "XA END 'pay-3'", "XA COMMIT 'pay-3' ONE PHASE")

	dir := t.TempDir()
	csv := filepath.Join(dir, "entries.csv")
	if err := os.WriteFile(csv, []byte("10,1,1000\n11,2,1100\n12,3,1200\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustExec(t, a, "LOAD DATA INFILE '"+csv+"' INTO TABLE lending.ledger_entries FIELDS TERMINATED BY ','")
	labapi.Converged(t, st, time.Minute)
	var ids string
	if err := b.QueryRow("SELECT GROUP_CONCAT(id ORDER BY id) FROM lending.ledger_entries").Scan(&ids); err != nil || ids != "1,2,3,5,10,11,12" {
		t.Errorf("b has ids %q (%v), want 1,2,3,5,10,11,12 (4 was rolled back)", ids, err)
	}
	sameTables(t, st, "lending.ledger_entries")
}

// TestSchemaChangesWhileTheOtherRegionWrites: a adds a column, then drops
// one, while b keeps writing the table. b's rows written before the drop
// reached b still carry the dropped column when they arrive in a; a
// dropped it on purpose, so they apply without it (the link does not
// halt), and the tables end identical with no operator action. The drop
// is held in b (a lock on a row a's last update needs) while b writes, so
// that those rows exist.
func TestSchemaChangesWhileTheOtherRegionWrites(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL, note VARCHAR(20) NULL)",
		"INSERT INTO lending.loans VALUES (1, 1, 100, 'a'), (2, 2, 200, 'b')")
	labapi.Converged(t, st, time.Minute)

	// b's application writes its own rows (even ids) all along.
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for id := int64(1000); ; id += 2 {
			select {
			case <-stop:
				done <- nil
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := b.Exec("INSERT INTO lending.loans (id, user_id, amount_cents) VALUES (?, ?, ?)", id, id%7, id); err != nil {
				done <- err
				return
			}
			if _, err := b.Exec("UPDATE lending.loans SET amount_cents = amount_cents + 1 WHERE id = ?", id-2); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	mustExec(t, a, "ALTER TABLE lending.loans ADD COLUMN risk INT NOT NULL DEFAULT 0",
		"INSERT INTO lending.loans (id, user_id, amount_cents, risk) VALUES (3, 3, 300, 5)")
	time.Sleep(time.Second)

	// Hold a's next update in b, then drop the column in a: the drop waits
	// behind it in b while b keeps writing rows that carry the column.
	release := holdRows(t, b, "SELECT * FROM lending.loans WHERE id = 1 FOR UPDATE", time.Minute)
	mustExec(t, a, "UPDATE lending.loans SET amount_cents = 101 WHERE id = 1", "ALTER TABLE lending.loans DROP COLUMN note")
	time.Sleep(2 * time.Second)
	release()
	time.Sleep(time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("b's writes: %v", err)
	}
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.loans")
	var cols int
	if err := b.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'lending' AND TABLE_NAME = 'loans' AND COLUMN_NAME = 'note'").Scan(&cols); err != nil || cols != 0 {
		t.Errorf("b still has the dropped column (%d, %v)", cols, err)
	}
	logA, _ := os.ReadFile(filepath.Join(st.Dir, "logs", "regiond-a.log"))
	if !strings.Contains(string(logA), "leaving out values of columns this region dropped") {
		t.Errorf("no row of b carried the dropped column into a: the race was not exercised")
	}
}
