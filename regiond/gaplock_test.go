package regiond_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// TestAppliedInsertsTakeNoGapLocks: the applier does not read a key it
// inserts before inserting it, so it holds no gap lock that would block
// the application's own inserts nearby. A lending app in b inserts
// payment 15 while the applier is in the middle of a's transaction that
// inserts payment 12 and updates payment 20 (it waits for a lock a
// report holds on 20): the app's insert goes through at once. With a
// locking read of 12 first (as before), the applier held the gap
// between 10 and 20 and the app's insert waited until its lock wait
// timeout. Then everything converges: 12 and 15 in both regions.
func TestAppliedInsertsTakeNoGapLocks(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		// Not listed in the lab's config: conflict policy reject, so every
		// change is checked against the target.
		"CREATE TABLE lending.payments (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"CREATE TABLE lending.loan_balances (user_id BIGINT PRIMARY KEY, balance_cents BIGINT NOT NULL)",
		"INSERT INTO lending.payments VALUES (10, 1, 100), (20, 2, 200)",
		"INSERT INTO lending.loan_balances VALUES (1, 10000), (2, 20000)")
	labapi.Converged(t, st, time.Minute)

	// A report in b holds payment 20 until released.
	release := holdRows(t, b, "SELECT * FROM lending.payments WHERE id = 20 FOR UPDATE", time.Minute)
	defer release()
	// The repayment as the app writes it: user 1's payment and balance,
	// and user 2's payment corrected, in one transaction.
	inTxn(t, a, "INSERT INTO lending.payments VALUES (12, 1, 120)",
		"UPDATE lending.loan_balances SET balance_cents = balance_cents - 120 WHERE user_id = 1",
		"UPDATE lending.payments SET amount_cents = 210 WHERE id = 20")
	waitForLockWait(t, b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := b.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 2"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := conn.ExecContext(ctx, "INSERT INTO lending.payments VALUES (15, 3, 150)"); err != nil {
		t.Fatalf("the app's insert of payment 15 in b while the applier waits: %v (after %s): the applier holds a gap lock", err, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("the app's insert went through in %s while the applier waited", time.Since(start).Round(time.Millisecond))
	release()
	labapi.Converged(t, st, time.Minute)
	for _, db := range []*sql.DB{a, b} {
		var ids string
		if err := db.QueryRow("SELECT GROUP_CONCAT(CONCAT(id, ':', amount_cents) ORDER BY id) FROM lending.payments").Scan(&ids); err != nil {
			t.Fatal(err)
		}
		if ids != "10:100,12:120,15:150,20:210" {
			t.Errorf("payments %s, want 10:100,12:120,15:150,20:210", ids)
		}
		var bal int64
		if err := db.QueryRow("SELECT balance_cents FROM lending.loan_balances WHERE user_id = 1").Scan(&bal); err != nil || bal != 9880 {
			t.Errorf("user 1's balance %d (%v), want 9880", bal, err)
		}
	}
}

// waitForLockWait waits until a statement on lending.payments in db has
// been waiting a second or more (the applier, blocked by the held row).
func waitForLockWait(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE command = 'Query' AND time >= 1 AND info LIKE '%lending%payments%' AND id <> CONNECTION_ID()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no statement in b waits for the held row after 30s: the applier did not reach it")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
