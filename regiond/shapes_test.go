package regiond_test

import (
	"testing"
	"time"

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
	converged(t, st, time.Minute)
	b := openDB(t, st, "b", "")
	var n, sum int64
	if err := b.QueryRow("SELECT COUNT(*), SUM(id) FROM lending.ledger_entries").Scan(&n, &sum); err != nil || n != 4 || sum != 100+101+103+104 {
		t.Errorf("b has %d rows with ids summing to %d (%v); want 100, 101, 103 and 104", n, sum, err)
	}
	sameTables(t, st, "lending.ledger_entries")
}
