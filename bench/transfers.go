package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/topo"
)

// TransferOptions configures RunTransfers: an active-active workload
// written in two regions at once, on the platform and on MariaDB's own
// master-master replication between two servers, one run after the other.
type TransferOptions struct {
	// Dir is a new or empty folder for the servers (kept afterwards); ""
	// uses a temporary one, removed.
	Dir      string
	Bin      lab.Binaries
	Progress io.Writer
	// Duration is how long each run's load lasts.
	Duration time.Duration
	// Threads writers per region; Users users per region, disjoint.
	Threads, Users int
	// Settle bounds the wait for both regions to hold the same rows.
	Settle time.Duration
}

// DefaultTransferOptions: 20 s of load, 4 writers and 200 users per region.
func DefaultTransferOptions() TransferOptions {
	return TransferOptions{Duration: 20 * time.Second, Threads: 4, Users: 200, Settle: 2 * time.Minute}
}

// RunMasterMaster is the transfer workload's baseline run (the other is
// RunPlatform).
const RunMasterMaster = "mariadb-master-master"

// Validate names the option that is out of range.
func (o TransferOptions) Validate() error {
	switch {
	case o.Duration <= 0:
		return fmt.Errorf("--duration %s: give a positive duration, e.g. 20s", o.Duration)
	case o.Threads <= 0:
		return fmt.Errorf("--threads %d: give at least 1 writer per region", o.Threads)
	case o.Users <= 0:
		return fmt.Errorf("--users %d: give at least 1 user per region", o.Users)
	case o.Settle <= 0:
		return fmt.Errorf("settle time %s: give a positive wait for the regions to converge", o.Settle)
	}
	return nil
}

// TransferRun is one run of the transfer workload.
type TransferRun struct {
	Name string `json:"name"`
	// Transfers committed in both regions together, and per region.
	Transfers int64            `json:"transfers"`
	PerRegion map[string]int64 `json:"per_region"`
	PerS      float64          `json:"transfers_per_s"`
	// Retries are transactions rolled back by a deadlock or a lock wait
	// and run again (not counted as transfers).
	Retries int64 `json:"retries"`
	// ConvergeS is from the load's end until both regions hold the same
	// accounts and ledger rows (table checksums).
	ConvergeS float64 `json:"converge_s"`
	// Equal: both regions' tables are the same; Conserved: every user's
	// balances still sum to what they were given.
	Equal     bool `json:"equal"`
	Conserved bool `json:"conserved"`
	// CPU seconds of each server process over the load, and per transfer
	// (ms) everything but the benchmark's own client.
	CPU           map[string]float64 `json:"cpu_s"`
	CPUPerTxMS    float64            `json:"cpu_ms_per_transfer"`
	LoadAvgBefore float64            `json:"loadavg_before"`
	LoadAvgAfter  float64            `json:"loadavg_after"`
}

// TransferReport is what RunTransfers measured.
type TransferReport struct {
	DurationS float64       `json:"duration_s"`
	Threads   int           `json:"threads_per_region"`
	Users     int           `json:"users_per_region"`
	Runs      []TransferRun `json:"runs"`
	// Ratio is the platform's transfers a second over master-master's.
	Ratio *float64 `json:"platform_vs_master_master"`
}

// transferSystem is one run's pair of servers.
type transferSystem struct {
	names [2]string // the regions
	ports [2]int    // their MySQL
	users [2][]int64
	procs map[string]int
	stop  func()
}

// initialBalance is what each of a user's two accounts holds at the start.
const initialBalance = 1_000_000_00

// RunTransfers measures the transfer workload: in each of two regions,
// Threads writers move money between two accounts of one of the region's
// users and append a ledger row, in one transaction, for Duration; then
// the regions converge and are compared.
func RunTransfers(ctx context.Context, o TransferOptions) (*TransferReport, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir, cleanup, err := workDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rep := &TransferReport{DurationS: o.Duration.Seconds(), Threads: o.Threads, Users: o.Users}
	for _, run := range []string{RunPlatform, RunMasterMaster} {
		sys, err := o.start(ctx, run, filepath.Join(dir, run))
		if err != nil {
			return rep, fmt.Errorf("%s: %w", run, err)
		}
		res, err := o.run(ctx, run, sys)
		sys.stop()
		if err != nil {
			return rep, fmt.Errorf("%s: %w", run, err)
		}
		rep.Runs = append(rep.Runs, *res)
	}
	if m := rep.Runs[1].PerS; m > 0 {
		r := rep.Runs[0].PerS / m
		rep.Ratio = &r
	}
	return rep, nil
}

// start brings up run's two regions with the sample schema and the users'
// accounts.
func (o TransferOptions) start(ctx context.Context, run, dir string) (*transferSystem, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var sys *transferSystem
	var err error
	if run == RunPlatform {
		sys, err = o.startPlatform(ctx, dir)
	} else {
		sys, err = o.startMasterMaster(ctx, dir)
	}
	if err != nil {
		return nil, err
	}
	if err := sys.seed(ctx); err != nil {
		sys.stop()
		return nil, err
	}
	return sys, nil
}

// startPlatform starts a two-region lab; each region's users are users
// of the cell it holds (a1 holds the first half of the buckets).
func (o TransferOptions) startPlatform(ctx context.Context, dir string) (*transferSystem, error) {
	fmt.Fprintf(o.Progress, "%s: starting a two-region lab in %s\n", RunPlatform, dir)
	st, stop, err := twoRegions(ctx, dir, "transfers", o.Bin, io.Discard)
	if err != nil {
		return nil, err
	}
	if err := lab.CreateSample(ctx, st, time.Minute, nil); err != nil {
		stop()
		return nil, err
	}
	p, err := newPlatform(st)
	if err != nil {
		stop()
		return nil, err
	}
	sys := &transferSystem{names: [2]string{p.src.Name, p.dst.Name}, ports: [2]int{p.src.MySQLPort, p.dst.MySQLPort}, procs: p.procs(), stop: stop}
	half := topo.Bucket(st.Buckets / 2)
	for u := int64(7_000_000); len(sys.users[0]) < o.Users || len(sys.users[1]) < o.Users; u++ {
		i := 1
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < half {
			i = 0
		}
		if len(sys.users[i]) < o.Users {
			sys.users[i] = append(sys.users[i], u)
		}
	}
	return sys, nil
}

// startMasterMaster starts two MariaDB servers configured like the lab's,
// each replicating the other (GTIDs, optimistic parallel replication with
// 4 threads, interleaved auto-increments), with the sample schema.
func (o TransferOptions) startMasterMaster(ctx context.Context, dir string) (_ *transferSystem, err error) {
	fmt.Fprintf(o.Progress, "%s: starting two MariaDB servers replicating each other in %s\n", RunMasterMaster, dir)
	var srv [2]*lab.MariaDB
	sys := &transferSystem{names: [2]string{"a", "b"}, procs: map[string]int{}}
	sys.stop = func() {
		for _, m := range srv {
			if m != nil {
				_ = m.Stop(context.WithoutCancel(ctx))
			}
		}
	}
	defer func() {
		if err != nil {
			sys.stop()
		}
	}()
	errs := make(chan error, 2)
	for i := range srv {
		go func() {
			m, err := lab.StartMariaDB(ctx, filepath.Join(dir, sys.names[i]), i+1)
			srv[i] = m
			errs <- err
		}()
	}
	if err := errors.Join(<-errs, <-errs); err != nil {
		return nil, err
	}
	for i, m := range srv {
		sys.ports[i], sys.procs["mysql-"+sys.names[i]] = m.Port, m.Proc.Pid
		db, err := openDB(m.Port, 1)
		if err != nil {
			return nil, err
		}
		stmts := []string{
			"SET GLOBAL auto_increment_increment = 2",
			fmt.Sprintf("SET GLOBAL auto_increment_offset = %d", i+1),
			"SET GLOBAL slave_parallel_threads = 4",
			"SET GLOBAL slave_parallel_mode = 'optimistic'",
			fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", srv[1-i].Port),
			"START SLAVE",
		}
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s); err != nil {
				db.Close()
				return nil, fmt.Errorf("server %s: %s: %w", sys.names[i], s, err)
			}
		}
		db.Close()
	}
	db, err := openDB(srv[0].Port, 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, s := range append(append([]string(nil), lab.SampleSchema...), lab.LedgerSchema...) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("sample schema: %w", err)
		}
	}
	for i := range 2 {
		for n := range o.Users {
			sys.users[i] = append(sys.users[i], int64(7_000_000+2*n+i))
		}
	}
	return sys, nil
}

// seed gives each user two accounts, written in the user's region, and
// waits until both regions hold all of them.
func (s *transferSystem) seed(ctx context.Context) error {
	want := 0
	for i, port := range s.ports {
		db, err := openDB(port, 1)
		if err != nil {
			return err
		}
		for start := 0; start < len(s.users[i]); start += 100 {
			var vals []any
			q := "INSERT INTO " + Database + ".accounts (id, user_id, kind, balance_cents) VALUES "
			for n, u := range s.users[i][start:min(start+100, len(s.users[i]))] {
				if n > 0 {
					q += ", "
				}
				q += "(?, ?, 'current', ?), (?, ?, 'savings', ?)"
				vals = append(vals, u*10+1, u, initialBalance, u*10+2, u, initialBalance)
			}
			if _, err := db.ExecContext(ctx, q, vals...); err != nil {
				db.Close()
				return fmt.Errorf("seed the accounts in %s: %w", s.names[i], err)
			}
		}
		db.Close()
		want += 2 * len(s.users[i])
	}
	return s.waitEqual(ctx, time.Minute, func(db *sql.DB) (string, error) {
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+Database+".accounts WHERE user_id >= 7000000").Scan(&n)
		if err == nil && n != want {
			return "", fmt.Errorf("%d of %d accounts", n, want)
		}
		return strconv.Itoa(n), err
	})
}

// waitEqual polls both regions with read until both answer without error
// and the same, up to timeout.
func (s *transferSystem) waitEqual(ctx context.Context, timeout time.Duration, read func(*sql.DB) (string, error)) error {
	var dbs [2]*sql.DB
	for i, port := range s.ports {
		db, err := openDB(port, 1)
		if err != nil {
			return err
		}
		defer db.Close()
		dbs[i] = db
	}
	deadline := time.Now().Add(timeout)
	for {
		a, errA := read(dbs[0])
		b, errB := read(dbs[1])
		if errA == nil && errB == nil && a == b {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the regions differ after %s: %s %q (%v), %s %q (%v)", timeout, s.names[0], a, errA, s.names[1], b, errB)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checksum is both tables' CHECKSUM TABLE, as one string.
func checksum(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "CHECKSUM TABLE "+Database+".accounts, "+Database+".ledger_entries")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	out := ""
	for rows.Next() {
		var t string
		var sum sql.NullInt64
		if err := rows.Scan(&t, &sum); err != nil {
			return "", err
		}
		out += fmt.Sprintf("%s=%d ", t, sum.Int64)
	}
	return out, rows.Err()
}

// run loads both regions for Duration, then waits for them to converge
// and compares them.
func (o TransferOptions) run(ctx context.Context, name string, sys *transferSystem) (*TransferRun, error) {
	res := &TransferRun{Name: name, PerRegion: map[string]int64{}, LoadAvgBefore: loadAvg()}
	fmt.Fprintf(o.Progress, "%s: %d writers in each of %s and %s for %s, %d users each\n", name, o.Threads, sys.names[0], sys.names[1], o.Duration, o.Users)
	var counts [2]atomic.Int64
	var retries atomic.Int64
	lctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	errs := make(chan error, 2*o.Threads)
	var wg sync.WaitGroup
	cpu := startCPU(sys.procs)
	start := time.Now()
	for i := range sys.ports {
		db, err := openDB(sys.ports[i], o.Threads)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		for t := range o.Threads {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(t)))
				errs <- transferLoop(lctx, db, rng, sys.users[i], &counts[i], &retries)
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.CPU = cpu.stop()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for i, n := range sys.names {
		res.PerRegion[n] = counts[i].Load()
		res.Transfers += counts[i].Load()
	}
	res.Retries = retries.Load()
	res.PerS = float64(res.Transfers) / elapsed.Seconds()
	var total float64
	for _, s := range res.CPU {
		total += s
	}
	if res.Transfers > 0 {
		res.CPUPerTxMS = total / float64(res.Transfers) * 1000
	}
	fmt.Fprintf(o.Progress, "%s: %d transfers (%.0f/s), %d retried; waiting for the regions to converge\n", name, res.Transfers, res.PerS, res.Retries)
	end := time.Now()
	err := sys.waitEqual(ctx, o.Settle, func(db *sql.DB) (string, error) { return checksum(ctx, db) })
	res.ConvergeS = time.Since(end).Seconds()
	res.Equal = err == nil
	if err != nil {
		fmt.Fprintf(o.Progress, "%s: %v\n", name, err)
	}
	res.Conserved = sys.conserved(ctx)
	res.LoadAvgAfter = loadAvg()
	fmt.Fprintf(o.Progress, "%s: converged in %.2fs: equal %v, balances conserved %v\n", name, res.ConvergeS, res.Equal, res.Conserved)
	return res, nil
}

// conserved reports whether, in both regions, every user's two accounts
// still sum to what they were given.
func (s *transferSystem) conserved(ctx context.Context) bool {
	for _, port := range s.ports {
		db, err := openDB(port, 1)
		if err != nil {
			return false
		}
		var bad int
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT user_id FROM "+Database+".accounts WHERE user_id >= 7000000 GROUP BY user_id HAVING SUM(balance_cents) <> ?) x", 2*initialBalance).Scan(&bad)
		db.Close()
		if err != nil || bad != 0 {
			return false
		}
	}
	return true
}

// transferLoop moves money between a random user's two accounts and
// appends a ledger row, one transaction at a time, until ctx ends.
func transferLoop(ctx context.Context, db *sql.DB, rng *rand.Rand, users []int64, n, retries *atomic.Int64) error {
	for ctx.Err() == nil {
		u := users[rng.IntN(len(users))]
		from, to := u*10+1, u*10+2
		if rng.IntN(2) == 0 {
			from, to = to, from
		}
		amount := int64(1 + rng.IntN(10_000))
		err := transfer(ctx, db, u, from, to, amount)
		switch {
		case err == nil:
			n.Add(1)
		case ctx.Err() != nil:
			return nil
		case retryable(err):
			retries.Add(1)
		default:
			return err
		}
	}
	return nil
}

func transfer(ctx context.Context, db *sql.DB, user, from, to, amount int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	for _, s := range []struct {
		q    string
		args []any
	}{
		{"UPDATE " + Database + ".accounts SET balance_cents = balance_cents - ?, version = version + 1 WHERE id = ?", []any{amount, from}},
		{"UPDATE " + Database + ".accounts SET balance_cents = balance_cents + ?, version = version + 1 WHERE id = ?", []any{amount, to}},
		{"INSERT INTO " + Database + ".ledger_entries (user_id, account_id, amount_cents, kind) VALUES (?, ?, ?, 'transfer')", []any{user, to, amount}},
	} {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Check reports a run whose regions differ after the load, or whose
// users' balances no longer sum to what they were given.
func (r *TransferReport) Check() error {
	var errs []error
	for _, run := range r.Runs {
		if !run.Equal {
			errs = append(errs, fmt.Errorf("%s: the regions' accounts and ledger differ after the load", run.Name))
		}
		if !run.Conserved {
			errs = append(errs, fmt.Errorf("%s: a user's balances no longer sum to what they were given", run.Name))
		}
	}
	return errors.Join(errs...)
}

// WriteText prints the report for a person: a line per run and the ratio.
func (r *TransferReport) WriteText(w io.Writer) error {
	for _, run := range r.Runs {
		fmt.Fprintf(w, "  %-22s %7.0f transfers/s (%d in %.0fs, %d retried), converged %.2fs after, equal %v, balances conserved %v, %.2f ms CPU per transfer (servers)\n",
			run.Name, run.PerS, run.Transfers, r.DurationS, run.Retries, run.ConvergeS, run.Equal, run.Conserved, run.CPUPerTxMS)
	}
	_, err := fmt.Fprintf(w, "two regions writing at once, %d writers and %d users each: the platform %s x MariaDB's master-master\n",
		r.Threads, r.Users, fmtOpt(r.Ratio, "%.2f"))
	return err
}
