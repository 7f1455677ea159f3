package regiond_test

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// randomSchema has every shape at once: a secondary unique key, a latin1
// column, generated columns (one VIRTUAL, one STORED), a BINARY code with
// a unique key, foreign keys two levels deep (ON DELETE CASCADE, ON
// UPDATE CASCADE, SET NULL), and a table without a primary key.
var randomSchema = []string{
	"CREATE DATABASE lending",
	`CREATE TABLE lending.borrowers (id BIGINT PRIMARY KEY, email VARCHAR(40) NOT NULL, name VARCHAR(30) CHARACTER SET latin1 NOT NULL,
		balance DECIMAL(12,2) NOT NULL, label VARCHAR(80) AS (CONCAT(name, '/', email)) VIRTUAL, UNIQUE KEY uq_email (email))`,
	`CREATE TABLE lending.credits (id BIGINT PRIMARY KEY, borrower_id BIGINT NULL, principal BIGINT NOT NULL, interest BIGINT NOT NULL,
		total BIGINT AS (principal + interest) STORED, code BINARY(8) NOT NULL, UNIQUE KEY uq_code (code),
		FOREIGN KEY fk_borrower (borrower_id) REFERENCES lending.borrowers (id) ON DELETE SET NULL)`,
	`CREATE TABLE lending.schedule (id BIGINT PRIMARY KEY, credit_id BIGINT NOT NULL, due BIGINT NOT NULL,
		FOREIGN KEY fk_credit (credit_id) REFERENCES lending.credits (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE lending.journal (borrower_id BIGINT NOT NULL, action VARCHAR(12) NOT NULL, amount BIGINT NULL)`,
}

var randomTables = []string{"lending.borrowers", "lending.credits", "lending.schedule", "lending.journal"}

// TestRandomApplicationTransactions: both regions run random application
// transactions on randomSchema at once, each on its own rows (ids by
// region), of one to five statements, some with a savepoint rolled back
// to: inserts, updates of plain, unique and key columns, deletes that
// cascade, a credit renumbered (its schedule follows), journal rows
// without a key. After them the regions hold the same rows. The run is
// bounded (150 transactions or 40 s per region); a seed in the log
// repeats it.
func TestRandomApplicationTransactions(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: "lending.journal", Conflict: config.ConflictOverwrite}}}, "a", "b")
	dbs := map[string]*sql.DB{"a": openDB(t, st, "a", ""), "b": openDB(t, st, "b", "")}
	mustExec(t, dbs["a"], randomSchema...)
	labapi.Converged(t, st, time.Minute)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RANDOM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RANDOM_SEED=%q: want the number a run logged", s)
		}
		seed = n
	}
	t.Logf("seed %d (RANDOM_SEED=%d repeats the workload)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			for r, db := range dbs {
				logConflicts(t, r, db)
			}
		}
	})
	var wg sync.WaitGroup
	counts := map[string][2]int{}
	var mu sync.Mutex
	for i, r := range []string{"a", "b"} {
		wg.Go(func() {
			w := &randomWriter{db: dbs[r], rng: rand.New(rand.NewPCG(seed, uint64(i))), base: int64(i+1) * 1_000_000, region: r}
			ok, refused, err := w.run(150, time.Now().Add(40*time.Second))
			if err != nil {
				t.Errorf("region %s: %v", r, err)
			}
			mu.Lock()
			counts[r] = [2]int{ok, refused}
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("committed / rolled back by the database, per region: %v", counts)
	for r, c := range counts {
		if c[0] < 50 {
			t.Fatalf("region %s committed only %d transactions (%d refused): the workload tests little", r, c[0], c[1])
		}
	}
	labapi.Converged(t, st, 2*time.Minute)
	sameTables(t, st, randomTables...)
}

// logConflicts logs the conflicts region r's appliers recorded.
func logConflicts(t *testing.T, r string, db *sql.DB) {
	rows, err := db.Query("SELECT source_gtid, tbl, pk, op, reason, COALESCE(local_image, ''), COALESCE(incoming_before, ''), COALESCE(incoming_after, '') FROM _region.conflicts ORDER BY id")
	if err != nil {
		t.Logf("region %s: conflicts not read: %v", r, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var gtid, tbl, pk, op, reason, local, before, after string
		if err := rows.Scan(&gtid, &tbl, &pk, &op, &reason, &local, &before, &after); err != nil {
			t.Logf("region %s: %v", r, err)
			return
		}
		t.Logf("region %s: conflict %s %s %s %s: %s\n  here:   %s\n  before: %s\n  after:  %s", r, gtid, tbl, pk, op, reason, local, before, after)
	}
}

// randomWriter writes one region's random transactions on its own ids
// (base + n).
type randomWriter struct {
	db     *sql.DB
	rng    *rand.Rand
	base   int64
	region string
	next   int64
	// borrowers and credits it created (some since deleted).
	borrowers, credits []int64
}

func (w *randomWriter) id() int64 { w.next++; return w.base + w.next }

func (w *randomWriter) pick(ids []int64) int64 {
	if len(ids) == 0 {
		return w.base // none yet: a statement that changes nothing
	}
	return ids[w.rng.IntN(len(ids))]
}

// statement returns one random statement.
func (w *randomWriter) statement() string {
	b, c := w.pick(w.borrowers), w.pick(w.credits)
	names := []string{"Zoë", "Ã©mile", "Núñez", "plain"}
	switch w.rng.IntN(12) {
	case 0, 1:
		id := w.id()
		w.borrowers = append(w.borrowers, id)
		return fmt.Sprintf("INSERT INTO lending.borrowers (id, email, name, balance) VALUES (%d, 'u%d@%s', '%s', %d.%02d)", id, id, w.region, names[w.rng.IntN(len(names))], w.rng.IntN(1000), w.rng.IntN(100))
	case 2:
		return fmt.Sprintf("UPDATE lending.borrowers SET balance = balance + %d, name = '%s' WHERE id = %d", w.rng.IntN(50)+1, names[w.rng.IntN(len(names))], b)
	case 3: // a unique value moved away, or taken: another borrower's first email
		if w.rng.IntN(2) == 0 {
			return fmt.Sprintf("UPDATE lending.borrowers SET email = CONCAT('moved-', id, '@%s') WHERE id = %d", w.region, b)
		}
		return fmt.Sprintf("UPDATE lending.borrowers SET email = 'u%d@%s' WHERE id = %d", w.pick(w.borrowers), w.region, b)
	case 4:
		return fmt.Sprintf("DELETE FROM lending.borrowers WHERE id = %d", b) // credits keep, unlinked (SET NULL)
	case 5, 6:
		id := w.id()
		w.credits = append(w.credits, id)
		code := fmt.Sprintf("%016X", uint64(id)<<16) // ends in zero bytes: BINARY's padding
		return fmt.Sprintf("INSERT INTO lending.credits (id, borrower_id, principal, interest, code) VALUES (%d, %d, %d, %d, 0x%s)", id, b, 1000+w.rng.IntN(9000), w.rng.IntN(500), code)
	case 7:
		id := w.id()
		return fmt.Sprintf("INSERT INTO lending.schedule VALUES (%d, %d, %d), (%d, %d, %d)", id, c, w.rng.IntN(500), w.id(), c, w.rng.IntN(500))
	case 8:
		return fmt.Sprintf("UPDATE lending.credits SET principal = principal - %d WHERE id = %d", w.rng.IntN(100), c)
	case 9: // renumbered: its schedule follows (ON UPDATE CASCADE)
		id := w.id()
		w.credits = append(w.credits, id)
		return fmt.Sprintf("UPDATE lending.credits SET id = %d WHERE id = %d", id, c)
	case 10:
		return fmt.Sprintf("DELETE FROM lending.credits WHERE id = %d", c) // its schedule goes (CASCADE)
	default:
		switch w.rng.IntN(3) {
		case 0:
			return fmt.Sprintf("INSERT INTO lending.journal VALUES (%d, 'pay', %d), (%d, 'pay', %d)", b, w.rng.IntN(100), b, w.rng.IntN(100))
		case 1:
			return fmt.Sprintf("UPDATE lending.journal SET amount = amount + 1 WHERE borrower_id = %d LIMIT 1", b)
		}
		return fmt.Sprintf("DELETE FROM lending.journal WHERE borrower_id = %d LIMIT 1", b)
	}
}

// run commits up to n transactions until deadline; it returns how many
// committed, how many the database refused (a duplicate key, a child of
// a deleted credit: rolled back whole), and the first other error.
func (w *randomWriter) run(n int, deadline time.Time) (committed, refused int, err error) {
	for committed < n && time.Now().Before(deadline) {
		tx, err := w.db.Begin()
		if err != nil {
			return committed, refused, err
		}
		stmts := 1 + w.rng.IntN(5)
		savepoint := w.rng.IntN(4) == 0
		var failed error
		for s := 0; s < stmts && failed == nil; s++ {
			if savepoint && s == stmts/2 {
				if _, failed = tx.Exec("SAVEPOINT sp"); failed == nil {
					_, _ = tx.Exec(w.statement()) // undone, whatever it did
					_, failed = tx.Exec("ROLLBACK TO SAVEPOINT sp")
				}
				continue
			}
			_, failed = tx.Exec(w.statement())
		}
		if failed == nil {
			failed = tx.Commit()
		}
		switch {
		case failed == nil:
			committed++
		case isRefusal(failed):
			tx.Rollback()
			refused++
		default:
			tx.Rollback()
			return committed, refused, failed
		}
	}
	return committed, refused, nil
}

// isRefusal: an error an application expects and retries or reports (a
// duplicate key, a child whose parent is gone, a deadlock or lock wait
// with the appliers' writes in the same indexes' gaps).
func isRefusal(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1062, 1451, 1452, 1213, 1205:
		return true
	}
	return false
}
