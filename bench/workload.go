package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/lab"
)

// Database is where the benchmark's tables live: the lab replicates it.
const Database = lab.SampleDatabase

// probeTable receives a row every probeEvery during the load; its arrival
// in the target measures end-to-end lag.
const probeTable = Database + ".bench_probe"

// openDB opens root on a loopback MariaDB with client-side parameter
// interpolation, so a statement is one round trip, as with sysbench.
func openDB(port, conns int) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", port)
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 5*time.Second, 2*time.Minute, 2*time.Minute
	c.InterpolateParams = true
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, fmt.Errorf("mysql on port %d: %w", port, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

func tableName(i int) string { return fmt.Sprintf("%s.sbtest%d", Database, i) }

// createTables creates the sbtest tables, as sysbench's oltp schema, and
// the probe table. They must not exist yet: the servers are fresh. (No
// DROP TABLE IF EXISTS first: MariaDB rewrites that statement in its
// binlog, which drops the platform's applied-DDL marker, so the drop
// would echo between regions.)
func createTables(ctx context.Context, db *sql.DB, tables int) error {
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + Database,
		"CREATE TABLE " + probeTable + " (id BIGINT NOT NULL PRIMARY KEY, sent_ns BIGINT NOT NULL) ENGINE=InnoDB"}
	for i := 1; i <= tables; i++ {
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %s (id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER NOT NULL DEFAULT 0,
	c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_%d (k)) ENGINE=InnoDB`, tableName(i), i))
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create tables: %s: %w (the benchmark needs fresh servers: use a new lab)", strings.SplitN(s, "(", 2)[0], err)
		}
	}
	return nil
}

// prepare fills each table with rows rows (ids 1..rows), 1,000 to a
// transaction, tables in parallel.
func prepare(ctx context.Context, db *sql.DB, tables, rows int, seed uint64) error {
	const batch = 1000
	errs := make([]error, tables)
	var wg sync.WaitGroup
	for t := 1; t <= tables; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(t)))
			for first := 1; first <= rows && errs[t-1] == nil; first += batch {
				n := min(batch, rows-first+1)
				var q strings.Builder
				args := make([]any, 0, 4*n)
				q.WriteString("INSERT INTO " + tableName(t) + " (id, k, c, pad) VALUES ")
				for i := range n {
					if i > 0 {
						q.WriteByte(',')
					}
					q.WriteString("(?,?,?,?)")
					args = append(args, first+i, 1+rng.IntN(rows), text(rng, 120), text(rng, 60))
				}
				if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
					errs[t-1] = fmt.Errorf("prepare %s: %w", tableName(t), err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// text is sysbench's c/pad value: groups of 11 random digits joined by '-'.
func text(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		if i%12 == 11 {
			b[i] = '-'
		} else {
			b[i] = byte('0' + rng.IntN(10))
		}
	}
	return string(b)
}

// loadResult is what the load committed on the source.
type loadResult struct {
	txns    uint64 // committed transactions
	retries uint64 // deadlocks and lock wait timeouts, retried
	elapsed time.Duration
}

// load runs oltp_write_only transactions from threads goroutines until
// d has passed, at most rate transactions a second in all (0: no limit).
// Each transaction is sysbench's oltp_write_only: an index update (k) of
// one random row, a non-index update (c) of another, and a delete and
// re-insert of a third, each statement group in a random table, then the
// commit. Several rows per transaction, in different tables and buckets,
// are what makes replication order them by writeset. committed counts
// commits as they happen, for the sampler (the probes add to it too).
func load(ctx context.Context, db *sql.DB, w Workload, seed uint64, committed *atomic.Uint64) (loadResult, error) {
	return loadN(ctx, db, w, seed, committed, 0)
}

// loadN is load that stops after limit transactions (0: no limit).
func loadN(ctx context.Context, db *sql.DB, w Workload, seed uint64, committed *atomic.Uint64, limit uint64) (loadResult, error) {
	start := time.Now()
	end := start.Add(w.Duration)
	tb := newBucket(w.Rate, start)
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, end.Add(time.Minute)) // a hung statement cannot hold the run
	defer cancel()
	var txns, retries, taken atomic.Uint64
	errs := make([]error, w.Threads)
	var wg sync.WaitGroup
	for th := range w.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(1000+th)))
			for time.Now().Before(end) {
				if err := tb.waitUntil(ctx, end); err != nil {
					errs[th] = err
					return
				}
				if !time.Now().Before(end) {
					return
				}
				if limit > 0 && taken.Add(1) > limit {
					return
				}
				err := writeTxn(ctx, db, rng, w.Tables, w.Rows)
				switch {
				case err == nil:
					txns.Add(1)
					committed.Add(1)
				case retryable(err):
					retries.Add(1)
					if limit > 0 {
						taken.Add(^uint64(0)) // not committed: another try
					}
				default:
					errs[th] = fmt.Errorf("load thread %d: %w", th, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	res := loadResult{txns: txns.Load(), retries: retries.Load(), elapsed: time.Since(start)}
	if parent.Err() != nil {
		return res, fmt.Errorf("load interrupted: %w", parent.Err())
	}
	return res, errors.Join(errs...)
}

// writeTxn is one oltp_write_only transaction: three random rows of
// random tables, as sysbench picks them.
func writeTxn(ctx context.Context, db *sql.DB, rng *rand.Rand, tables, rows int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	pick := func() (string, int) { return tableName(1 + rng.IntN(tables)), 1 + rng.IntN(rows) }
	t1, id1 := pick()
	t2, id2 := pick()
	t3, id3 := pick()
	stmts := []struct {
		q    string
		args []any
	}{
		{"UPDATE " + t1 + " SET k=k+1 WHERE id=?", []any{id1}},
		{"UPDATE " + t2 + " SET c=? WHERE id=?", []any{text(rng, 120), id2}},
		{"DELETE FROM " + t3 + " WHERE id=?", []any{id3}},
		{"INSERT INTO " + t3 + " (id, k, c, pad) VALUES (?,?,?,?)", []any{id3, 1 + rng.IntN(rows), text(rng, 120), text(rng, 60)}},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// retryable reports a deadlock or lock wait timeout: the transaction was
// rolled back and another one may run.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}
