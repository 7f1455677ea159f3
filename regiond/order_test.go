package regiond_test

import (
	"database/sql"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/topo"
)

// usersInOtherPartitions returns two user ids whose transactions capture
// publishes to different partitions.
func usersInOtherPartitions(st *lab.State) (u1, u2 int) {
	part := func(u int) int32 {
		b := topo.BucketOfString(strconv.Itoa(u), st.Buckets)
		return capture.Partition(strconv.Itoa(int(b)), st.PartitionCount())
	}
	u1 = 1
	for u2 = 2; part(u2) == part(u1); u2++ {
	}
	return u1, u2
}

// TestOverlappingTransactionsApplyInSourceOrder: T1 writes user U1's row
// and the global inventory row (qty 1), then T2 writes user U2's row and
// the same inventory row (qty 2). U1 and U2 are in different partitions,
// and T1 is slow in b (a row lock held there for three seconds). T2 must
// wait for T1 in b: b ends with qty 2 as a does, not 1.
func TestOverlappingTransactionsApplyInSourceOrder(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	u1, u2 := usersInOtherPartitions(st)
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"CREATE TABLE lending.inventory (sku VARCHAR(20) PRIMARY KEY, qty INT NOT NULL)",
		fmt.Sprintf("INSERT INTO lending.ledger_entries VALUES (1, %d, 0), (2, %d, 0)", u1, u2),
		"INSERT INTO lending.inventory VALUES ('card-stock', 0)")
	labapi.Converged(t, st, time.Minute)

	// b holds U1's row for three seconds (a reporting job, a backup).
	defer holdRows(t, b, "SELECT * FROM lending.ledger_entries WHERE id = 1 FOR UPDATE", 3*time.Second)()
	for i, q := range [][]string{
		{"UPDATE lending.ledger_entries SET amount_cents = 100 WHERE id = 1", "UPDATE lending.inventory SET qty = 1 WHERE sku = 'card-stock'"},
		{"UPDATE lending.ledger_entries SET amount_cents = 200 WHERE id = 2", "UPDATE lending.inventory SET qty = 2 WHERE sku = 'card-stock'"},
	} {
		inTxn(t, a, q...)
		t.Logf("T%d committed in a", i+1)
	}
	// While T1 waits for the lock, T2 waits for T1: the link says so.
	time.Sleep(time.Second)
	s, err := status(t, st, "b")
	if err != nil {
		t.Fatal(err)
	}
	waiting := ""
	for _, l := range s.Links {
		for _, p := range l.Partitions {
			if p.State == "waiting" {
				waiting = p.Waiting
			}
		}
	}
	t.Logf("while T1 is blocked in b: %q", waiting)
	if waiting == "" {
		t.Errorf("no partition of a->b is waiting while T1 is blocked: %+v", s.Links)
	}
	labapi.Converged(t, st, time.Minute)
	var qty int
	if err := b.QueryRow("SELECT qty FROM lending.inventory WHERE sku = 'card-stock'").Scan(&qty); err != nil || qty != 2 {
		t.Errorf("b has qty %d (%v), a has 2: T2 applied before T1", qty, err)
	}
	sameTables(t, st, "lending.inventory", "lending.ledger_entries")
}

// TestUniqueValueMovedBetweenUsers: T1 gives user U1's account a new
// email, freeing 'x@example.com'; T2 opens user U2's account with it. The
// two rows differ, but the unique key makes T2 depend on T1 (capture reads
// the source's unique keys): with T1 slow in b, T2 must not apply first
// (it would collide with the row T1 has not changed yet, and halt).
func TestUniqueValueMovedBetweenUsers(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	u1, u2 := usersInOtherPartitions(st)
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.accounts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, email VARCHAR(100) NOT NULL, UNIQUE KEY uq_email (email))",
		fmt.Sprintf("INSERT INTO lending.accounts VALUES (1, %d, 'x@example.com')", u1))
	labapi.Converged(t, st, time.Minute)
	defer holdRows(t, b, "SELECT * FROM lending.accounts WHERE id = 1 FOR UPDATE", 3*time.Second)()
	inTxn(t, a, "UPDATE lending.accounts SET email = 'x.old@example.com' WHERE id = 1")
	inTxn(t, a, fmt.Sprintf("INSERT INTO lending.accounts VALUES (2, %d, 'X@example.com')", u2))
	labapi.Converged(t, st, time.Minute)
	var conflicts int
	if err := b.QueryRow("SELECT COUNT(*) FROM _region.conflicts").Scan(&conflicts); err != nil || conflicts != 0 {
		t.Errorf("b logged %d conflicts (%v): T2 applied before T1", conflicts, err)
	}
	sameTables(t, st, "lending.accounts")
}

// TestMultiRowTransactionsConverge: the shape of sysbench oltp_write_only
// (several random rows per transaction on shared tables), from several
// clients at once for five seconds: every row ends equal in b.
func TestMultiRowTransactionsConverge(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	const rows = 500
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(40) NOT NULL, KEY k (k))",
		"CREATE TABLE lending.sbtest2 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(40) NOT NULL, KEY k (k))")
	for _, tb := range []string{"sbtest1", "sbtest2"} {
		q := "INSERT INTO lending." + tb + " VALUES "
		for i := 1; i <= rows; i++ {
			if i > 1 {
				q += ","
			}
			q += fmt.Sprintf("(%d, 0, '')", i)
		}
		mustExec(t, a, q)
	}
	labapi.Converged(t, st, time.Minute)

	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	txns := 0
	for c := 0; c < 6; c++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for n := 0; n < 2000 && time.Now().Before(deadline); n++ {
				tb := fmt.Sprintf("lending.sbtest%d", 1+rnd.Intn(2))
				id := func() int { return 1 + rnd.Intn(rows) }
				qs := []string{
					fmt.Sprintf("UPDATE %s SET k = k + 1 WHERE id = %d", tb, id()),
					fmt.Sprintf("UPDATE %s SET c = '%d-%d' WHERE id = %d", tb, seed, n, id()),
					fmt.Sprintf("DELETE FROM %s WHERE id = %d", tb, 1000+n%50),
					fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, 'ins') ON DUPLICATE KEY UPDATE k = k + 1", tb, 1000+n%50, rnd.Intn(100)),
					fmt.Sprintf("UPDATE %s SET k = %d, c = 'x%d' WHERE id = %d", tb, n, seed, id()),
				}
				if err := tryTxn(a, qs...); err != nil {
					continue // a deadlock between clients: the application would retry
				}
				mu.Lock()
				txns++
				mu.Unlock()
			}
		}(int64(c + 1))
	}
	wg.Wait()
	t.Logf("%d multi-row transactions committed in a", txns)
	labapi.Converged(t, st, 2*time.Minute)
	sameTables(t, st, "lending.sbtest1", "lending.sbtest2")
}

// holdRows locks the rows q (SELECT ... FOR UPDATE) selects in db, as
// another session of the application would, until d has passed or the
// returned release is called.
func holdRows(t *testing.T, db *sql.DB, q string, d time.Duration) (release func()) {
	t.Helper()
	lock, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(q); err != nil {
		lock.Rollback()
		t.Fatalf("%s: %v", q, err)
	}
	var once sync.Once
	rollback := func() { once.Do(func() { lock.Rollback() }) }
	timer := time.AfterFunc(d, rollback)
	return func() { timer.Stop(); rollback() }
}

func inTxn(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	if err := tryTxn(db, qs...); err != nil {
		t.Fatal(err)
	}
}

func tryTxn(db *sql.DB, qs ...string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for _, q := range qs {
		if _, err := tx.Exec(q); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}
