package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/router/guard"
	"github.com/regionplatform/region/topo"
)

// SampleSchema creates the sample lending schema: users, their loan
// accounts and the ledger of money movements, all sharded by user.
var SampleSchema = []string{
	"CREATE DATABASE IF NOT EXISTS " + SampleDatabase,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.users (
		id BIGINT NOT NULL PRIMARY KEY,
		name VARCHAR(100) NOT NULL,
		home_cell VARCHAR(32) NOT NULL,
		version BIGINT NOT NULL DEFAULT 1 COMMENT 'raised by every update: home-cell-wins orders changes by it',
		created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.loan_accounts (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		user_id BIGINT NOT NULL,
		principal_cents BIGINT NOT NULL,
		balance_cents BIGINT NOT NULL,
		status VARCHAR(16) NOT NULL,
		version BIGINT NOT NULL DEFAULT 1,
		updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
		KEY (user_id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS ` + SampleDatabase + `.ledger_entries (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		user_id BIGINT NOT NULL,
		account_id BIGINT NOT NULL,
		amount_cents BIGINT NOT NULL,
		kind VARCHAR(16) NOT NULL,
		created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		KEY (user_id)
	) ENGINE=InnoDB`,
}

// sampleTables are the tables of SampleSchema, LedgerSchema and productsSchema.
var sampleTables = []string{"users", "loan_accounts", "ledger_entries", "accounts", "requests", "ledger_totals", "rates", "products"}

// sampleTimeout bounds how long Up waits for replication to carry the
// sample schema to every region.
const sampleTimeout = 60 * time.Second

// CreateSample creates the sample lending schema and the ledger
// workload's tables (SampleSchema, LedgerSchema) in the lab's first
// region unless it has them, and waits until replication has
// carried it to every region, timeout at most. A lab that has the schema
// everywhere is left alone: nothing is written, so no DDL is replicated.
// progress (nil: none) gets one line.
func CreateSample(ctx context.Context, st *State, timeout time.Duration, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	t := time.Now()
	dbs := make([]*sql.DB, len(st.Regions))
	for i, r := range st.Regions {
		db, err := OpenMySQL(r.MySQLPort, "")
		if err != nil {
			return err
		}
		defer db.Close()
		dbs[i] = db
	}
	has := func(db *sql.DB) bool {
		var n int
		args := []any{SampleDatabase}
		for _, t := range sampleTables {
			args = append(args, t)
		}
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN (?"+strings.Repeat(", ?", len(sampleTables)-1)+")", args...).Scan(&n)
		return err == nil && n == len(sampleTables)
	}
	first := st.Regions[0].Name
	created := false
	if !has(dbs[0]) {
		for _, q := range slices.Concat(SampleSchema, LedgerSchema, productsSchema) {
			if _, err := dbs[0].ExecContext(ctx, q); err != nil {
				return fmt.Errorf("create the sample schema in region %s: %w", first, err)
			}
		}
		created = true
	}
	for i, r := range st.Regions {
		if err := WaitUntil(ctx, timeout-time.Since(t), func() bool { return has(dbs[i]) }); err != nil {
			return fmt.Errorf("the sample schema (%s) in region %s has not reached region %s (%v): is replication running? see `regionctl status --dir %s` and %s",
				SampleDatabase, first, r.Name, err, st.Dir, r.Regiond.Log)
		}
	}
	if created {
		fmt.Fprintf(progress, "sample      schema %s created in %s, in every region after %s\n", SampleDatabase, first, time.Since(t).Round(10*time.Millisecond))
	} else {
		fmt.Fprintf(progress, "sample      schema %s already in every region\n", SampleDatabase)
	}
	return nil
}

// HomeRegion is the index of the region whose cell owns the user in a
// fresh lab: the deployment's starting placement (config.StartingOwner),
// which the appliers also use. Once the routing table lives in etcd, the
// router answers this.
func (s *State) HomeRegion(userID int64) int { return s.homes()(userID) }

// homes returns HomeRegion's function, built once.
func (s *State) homes() func(userID int64) int {
	cfg := config.Config{Buckets: s.Buckets}
	index := map[string]int{}
	for i, r := range s.Regions {
		index[r.Name] = i
		if !r.Joined { // a region added later starts with no bucket
			cfg.Cells = append(cfg.Cells, config.Cell{Name: CellName(r.Name), Region: r.Name})
		}
	}
	owner := cfg.StartingOwner()
	return func(userID int64) int {
		return index[owner(topo.BucketOfString(strconv.FormatInt(userID, 10), s.Buckets))]
	}
}

// Workload is a short lending workload: it opens a loan for each user in
// the user's home region, then books repayments against it.
type Workload struct {
	// Users is how many users to create (ids FirstUser..FirstUser+Users-1).
	Users     int
	FirstUser int64
	// Repayments per user; each is one transaction of two rows.
	Repayments int
	// Seed makes amounts repeatable.
	Seed uint64
}

// WorkloadResult counts what the workload committed in each region.
type WorkloadResult struct {
	Region       string `json:"region"`
	Users        int    `json:"users"`
	Transactions int    `json:"transactions"`
}

// RunWorkload runs w against the lab, each user's writes in its home
// region, regions in parallel, straight into MySQL as a batch job would
// (no gateway, no guard).
func RunWorkload(ctx context.Context, st *State, w Workload) ([]WorkloadResult, error) {
	home := st.homes()
	res := make([]WorkloadResult, len(st.Regions))
	errs := make([]error, len(st.Regions))
	var wg sync.WaitGroup
	for i, r := range st.Regions {
		res[i].Region = r.Name
		var users []int64
		for u := w.FirstUser; u < w.FirstUser+int64(w.Users); u++ {
			if home(u) == i {
				users = append(users, u)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := OpenMySQL(r.MySQLPort, SampleDatabase)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(w.Seed, uint64(i)))
			for _, u := range users {
				if err := openLoan(ctx, nil, db, u, CellName(r.Name), 100000+rng.Int64N(900000)); err != nil {
					errs[i] = fmt.Errorf("region %s: user %d: %w", r.Name, u, err)
					return
				}
				res[i].Users++
				res[i].Transactions++
				for k := 0; k < w.Repayments; k++ {
					if err := repay(ctx, nil, db, u, 1000+rng.Int64N(9000)); err != nil {
						errs[i] = fmt.Errorf("region %s: user %d: %w", r.Name, u, err)
						return
					}
					res[i].Transactions++
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// deadlockTries is how many times inTx runs a transaction InnoDB chose
// as a deadlock's victim: as MySQL tells every application to, since
// two writers of one table (the application and the applier writing
// other regions' rows beside its own) can deadlock on gap locks.
const deadlockTries = 5

// inTx runs fn in a write transaction the guard admits for users, and
// commits it, again if InnoDB rolled it back as a deadlock's victim;
// without a guard (RunWorkload, a job writing a region's MySQL directly),
// in a plain transaction.
func inTx(ctx context.Context, g *guard.Guard, db guard.Beginner, w guard.Writes, fn func(*sql.Tx) error) error {
	var err error
	for try := 1; try <= deadlockTries; try++ {
		var me *mysql.MySQLError
		if err = inTxOnce(ctx, g, db, w, fn); !errors.As(err, &me) || me.Number != 1213 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
	return err
}

func inTxOnce(ctx context.Context, g *guard.Guard, db guard.Beginner, w guard.Writes, fn func(*sql.Tx) error) error {
	var tx *sql.Tx
	var commit func() error
	if g == nil {
		t, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		tx, commit = t, t.Commit
	} else {
		t, err := g.BeginWrites(ctx, db, nil, w)
		if err != nil {
			return err
		}
		tx, commit = t.Tx, t.Commit
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return commit()
}

func openLoan(ctx context.Context, g *guard.Guard, db *sql.DB, user int64, cell string, principal int64) error {
	return inTx(ctx, g, db, userWrites(user), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, home_cell) VALUES (?, ?, ?)`, user, fmt.Sprintf("user-%d", user), cell); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO loan_accounts (user_id, principal_cents, balance_cents, status) VALUES (?, ?, ?, 'open')`, user, principal, principal)
		if err != nil {
			return err
		}
		acct, err := r.LastInsertId()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES (?, ?, ?, 'disburse')`, user, acct, principal)
		return err
	})
}

func repay(ctx context.Context, g *guard.Guard, db *sql.DB, user, amount int64) error {
	return inTx(ctx, g, db, userWrites(user), func(tx *sql.Tx) error {
		var acct int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM loan_accounts WHERE user_id = ? ORDER BY id LIMIT 1 FOR UPDATE`, user).Scan(&acct); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE loan_accounts SET balance_cents = balance_cents - ?, version = version + 1 WHERE id = ?`, amount, acct); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES (?, ?, ?, 'repay')`, user, acct, -amount)
		return err
	})
}
