package regiond_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/topo"
)

// TestForeignKeyCascades: MySQL does not write the rows a foreign key's
// ON DELETE / ON UPDATE action changes to the binlog (InnoDB changes them
// inside the parent's statement), and the applier writes without
// foreign key checks; the applier repeats the actions itself. The
// lending app's shape: a loan's installments (ON DELETE CASCADE, ON
// UPDATE CASCADE), their payments (a cascade two levels deep), a
// collateral record that outlives its loan (ON DELETE SET NULL), and a
// table that forbids the delete (RESTRICT), written in both regions.
func TestForeignKeyCascades(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		`CREATE TABLE lending.installments (id BIGINT PRIMARY KEY, loan_id BIGINT NOT NULL, due_cents BIGINT NOT NULL,
			FOREIGN KEY fk_loan (loan_id) REFERENCES lending.loans (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
		`CREATE TABLE lending.payments (id BIGINT PRIMARY KEY, installment_id BIGINT NOT NULL, paid_cents BIGINT NOT NULL,
			FOREIGN KEY fk_installment (installment_id) REFERENCES lending.installments (id) ON DELETE CASCADE)`,
		`CREATE TABLE lending.collateral (id BIGINT PRIMARY KEY, loan_id BIGINT NULL, item VARCHAR(20) NOT NULL,
			FOREIGN KEY fk_coll_loan (loan_id) REFERENCES lending.loans (id) ON DELETE SET NULL ON UPDATE CASCADE)`,
		`CREATE TABLE lending.disputes (id BIGINT PRIMARY KEY, loan_id BIGINT NOT NULL,
			FOREIGN KEY fk_dispute_loan (loan_id) REFERENCES lending.loans (id))`)
	labapi.Converged(t, st, time.Minute)
	for _, db := range []struct {
		name string
		base int
	}{{"a", 0}, {"b", 1000}} {
		w := a
		if db.name == "b" {
			w = b
		}
		for l := db.base + 1; l <= db.base+4; l++ {
			inTxn(t, w,
				fmt.Sprintf("INSERT INTO lending.loans VALUES (%d, %d, 100000)", l, l),
				fmt.Sprintf("INSERT INTO lending.installments VALUES (%d, %d, 25000), (%d, %d, 25000)", 10*l, l, 10*l+1, l),
				fmt.Sprintf("INSERT INTO lending.payments VALUES (%d, %d, 25000)", 100*l, 10*l),
				fmt.Sprintf("INSERT INTO lending.collateral VALUES (%d, %d, 'car')", l, l),
			)
		}
	}
	mustExec(t, a, "INSERT INTO lending.disputes VALUES (1, 4)")
	labapi.Converged(t, st, time.Minute)

	// A written-off loan goes with its installments and their payments;
	// its collateral stays, unlinked. Another loan is renumbered. A loan
	// is deleted and written again in one transaction with a new
	// installment (the cascade must happen where the delete is, not at
	// the end). The delete of a loan under dispute fails in a.
	for _, w := range []struct {
		db   string
		base int
	}{{"a", 0}, {"b", 1000}} {
		db := a
		if w.db == "b" {
			db = b
		}
		mustExec(t, db,
			fmt.Sprintf("DELETE FROM lending.loans WHERE id = %d", w.base+1),
			fmt.Sprintf("UPDATE lending.loans SET id = %d WHERE id = %d", w.base+20, w.base+2),
		)
		inTxn(t, db,
			fmt.Sprintf("DELETE FROM lending.loans WHERE id = %d", w.base+3),
			fmt.Sprintf("INSERT INTO lending.loans VALUES (%d, %d, 5000)", w.base+3, w.base+3),
			fmt.Sprintf("INSERT INTO lending.installments VALUES (%d, %d, 5000)", 10*(w.base+3)+5, w.base+3))
	}
	if _, err := a.Exec("DELETE FROM lending.loans WHERE id = 4"); err == nil {
		t.Fatal("a deleted a loan a dispute references (RESTRICT)")
	}
	labapi.Converged(t, st, time.Minute)
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.installments WHERE loan_id IN (1, 1001)").Scan(&n); err != nil || n != 0 {
		t.Errorf("b holds %d installments of the deleted loans 1 and 1001 (%v); want none", n, err)
	}
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.installments WHERE loan_id IN (20, 1020)").Scan(&n); err != nil || n != 4 {
		t.Errorf("b holds %d installments of the renumbered loans 20 and 1020 (%v); want 4", n, err)
	}
	sameTables(t, st, "lending.loans", "lending.installments", "lending.payments", "lending.collateral", "lending.disputes")
}

// TestForeignKeyOrderAcrossPartitions: a user's loan application
// references a global offer (ON DELETE CASCADE: a withdrawn offer takes
// its pending applications). T1 inserts user U's application, T2
// withdraws the offer; U's partition and the offer's differ, and T1 is
// slow in b (a row lock held there). T2 must wait for T1 in b (capture
// puts the foreign key in both writesets): applied first, its cascade
// would find nothing, and T1 would leave in b an application a no
// longer has.
func TestForeignKeyOrderAcrossPartitions(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	offer := capture.Partition("lending.offers/7", st.PartitionCount())
	u := 1
	for ; capture.Partition(strconv.Itoa(int(topo.BucketOfString(strconv.Itoa(u), st.Buckets))), st.PartitionCount()) == offer; u++ {
	}
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"CREATE TABLE lending.offers (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		`CREATE TABLE lending.applications (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, offer_id BIGINT NOT NULL,
			FOREIGN KEY fk_offer (offer_id) REFERENCES lending.offers (id) ON DELETE CASCADE)`,
		fmt.Sprintf("INSERT INTO lending.ledger_entries VALUES (1, %d, 0)", u),
		"INSERT INTO lending.offers VALUES (7, 'summer-apr')")
	labapi.Converged(t, st, time.Minute)

	defer holdRows(t, b, "SELECT * FROM lending.ledger_entries WHERE id = 1 FOR UPDATE", 3*time.Second)()
	inTxn(t, a, "UPDATE lending.ledger_entries SET amount_cents = 100 WHERE id = 1",
		fmt.Sprintf("INSERT INTO lending.applications VALUES (1, %d, 7)", u))
	inTxn(t, a, "DELETE FROM lending.offers WHERE id = 7")
	labapi.Converged(t, st, time.Minute)
	var n int
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.applications").Scan(&n); err != nil || n != 0 {
		t.Errorf("b holds %d applications (%v); a holds none: the offer's delete applied before the application's insert", n, err)
	}
	sameTables(t, st, "lending.offers", "lending.applications", "lending.ledger_entries")
}
