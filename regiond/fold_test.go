package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// TestBacklogAppliesFolded: b's regiond is down while a's application
// runs transactions of the shapes a lender's do (two users' loans and a
// ledger row at once, a loan refinanced: deleted and a new one opened, a
// loan renumbered, a loan closed and opened again under its number, the
// global rates row), and b changes one of those loans itself. When b
// comes back, its applier takes the backlog in runs: runs without a
// conflict are folded (one probe and one statement per table for the
// run), the runs holding the conflict, a request (a secondary unique key)
// or the re-insert of a deleted versioned key apply one transaction at a
// time. Both regions end
// identical, and the conflicts are logged as one-by-one application logs
// them: in b, once for each of a's transactions that changed the loan.
func TestBacklogAppliesFolded(t *testing.T) {
	const users = 30
	st, a := backlogLab(t, nil, users, 10000)
	b := openDB(t, st, "b", "lending")
	// b's own change of loan 5, at a version a never reaches: it wins in
	// both regions (last-writer-wins).
	mustExec(t, b, "UPDATE loan_accounts SET balance_cents = 7, version = 50 WHERE id = 5")
	next, loan5 := int64(1000), 0
	for i := range 240 {
		u1, u2 := 1+i%users, 1+(i*7+3)%users
		if u1 == u2 {
			u2 = 1 + (u2 % users)
		}
		if u1 == 5 || u2 == 5 {
			loan5++
		}
		qs := []string{
			fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents - 10, version = version + 1 WHERE user_id = %d", u1),
			fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents + 10, version = version + 1 WHERE user_id = %d", u2),
			fmt.Sprintf("INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES (%d, %d, 10, 'transfer')", u1, u1),
			fmt.Sprintf("UPDATE users SET version = version + 1, name = 'u%d-%d' WHERE id = %d", u1, i, u1),
		}
		switch {
		case i%80 == 5: // a request with its receipt (a secondary unique key): its run applies one by one
			qs = append(qs, fmt.Sprintf("INSERT INTO requests (request_id, user_id, kind, from_account, to_account, amount_cents, region, receipt) VALUES ('r%d', %d, 'move', %d, %d, 10, 'a', 'rcpt-r%d')", i, u1, u1, u2, i))
		case i%60 == 59:
			qs = append(qs, "UPDATE rates SET rate_bp = rate_bp + 1, version = version + 1, region = 'a' WHERE name = 'prime'")
		case i == 100: // refinanced: the loan closed, a new one opened
			next++
			qs = append(qs, fmt.Sprintf("DELETE FROM loan_accounts WHERE id = %d", u1),
				fmt.Sprintf("INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status) VALUES (%d, %d, 5000, 5000, 'open')", next, u1))
		case i == 150: // renumbered
			qs = append(qs, "UPDATE loan_accounts SET id = 2000, version = version + 1 WHERE id = 20")
		case i == 200: // closed, and opened again under its number later in the run
			qs = append(qs, "DELETE FROM loan_accounts WHERE id = 25")
		case i == 203:
			qs = append(qs, "INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (25, 25, 2500, 2500, 'open', 99)")
		}
		inTxn(t, a, qs...)
	}
	restartRegiond(t, st, true, "b")
	labapi.Converged(t, st, 120*time.Second)
	sameTables(t, st, "lending.users", "lending.loan_accounts", "lending.ledger_entries", "lending.rates", "lending.requests")

	// a logs b's one change of loan 5 (it wins); b logs each of a's
	// transactions that changed it (each loses to version 50).
	for name, c := range map[string]struct {
		db   *sql.DB
		want int
	}{"a": {a, 1}, "b": {b, loan5}} {
		var bal int64
		var n int
		if err := c.db.QueryRow("SELECT balance_cents FROM loan_accounts WHERE id = 5").Scan(&bal); err != nil || bal != 7 {
			t.Errorf("region %s: loan 5 balance %d (%v), want b's 7 (version 50)", name, bal, err)
		}
		c.db.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'loan_accounts' AND pk = 'id=5'").Scan(&n)
		if n != c.want {
			t.Errorf("region %s logged %d conflicts of loan 5, want %d", name, n, c.want)
		}
	}
	m := regexp.MustCompile(`regiond_apply_folded_transactions_total\{source="a",target="b"\} (\d+)`).FindStringSubmatch(metrics(t, st, "b"))
	if m == nil {
		t.Fatal("b's metrics have no regiond_apply_folded_transactions_total for a->b")
	}
	folded, _ := strconv.Atoi(m[1])
	if folded == 0 || folded >= 240 {
		t.Errorf("%d of the 240 transactions of the backlog were folded: want some, and not the runs holding a request (unique receipt) or the conflict", folded)
	}
	t.Logf("b applied a's backlog of 240 transactions, %d of them folded with their run", folded)
}

// backlogLab starts a two-region lab (with the tables' settings) holding
// the sample schema, the ledger and the statements more, users 1 to users
// in a each with a loan of cents, replicated to b, then stops b's
// regiond: what a writes next waits as a backlog. It returns the lab and
// a's lending database.
func backlogLab(t *testing.T, tables []config.Table, users, cents int, more ...string) (*lab.State, *sql.DB) {
	t.Helper()
	st := labtest.UpWith(t, lab.Options{Tables: tables}, "a", "b")
	a := openDB(t, st, "a", "lending")
	createSchema(t, st, "a")
	createLedger(t, st)
	mustExec(t, a, more...)
	for u := 1; u <= users; u++ {
		mustExec(t, a, fmt.Sprintf("INSERT INTO users (id, name, home_cell) VALUES (%d, 'u%d', 'a1')", u, u),
			fmt.Sprintf("INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status) VALUES (%d, %d, %d, %d, 'open')", u, u, cents, cents))
	}
	labapi.Converged(t, st, 60*time.Second)
	restartRegiond(t, st, false, "b")
	return st, a
}

// TestBacklogCommitsWhatAnotherPartitionWaitsFor: a backlog in which
// transactions of users in different partitions share rows (a transfer
// between two users' loans, the global prime rate every tenth
// transaction) drains with runs that end where the other partition waits
// (regiond_apply_runs_cut_total), and both regions end identical, every
// transfer's money where the source put it. Among them, as a lending app
// writes: a request with its unique receipt (its run applies one
// transaction at a time), a keyless audit row, and a promotion tried and
// rolled back to a savepoint.
func TestBacklogCommitsWhatAnotherPartitionWaitsFor(t *testing.T) {
	const users = 40
	st, a := backlogLab(t, []config.Table{{Name: "lending.audit_log", Conflict: config.ConflictOverwrite}}, users, 100000,
		"CREATE TABLE audit_log (user_id BIGINT NOT NULL, action VARCHAR(20) NOT NULL, note VARCHAR(40) NULL)") // no primary key
	const txns = 1200
	for i := range txns {
		u1 := 1 + i%users
		qs := []string{
			fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents - 7, version = version + 1 WHERE user_id = %d", u1),
			fmt.Sprintf("INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES (%d, %d, 7, 'transfer')", u1, u1),
		}
		if i%3 == 0 { // a transfer to another user, maybe in the other partition
			u2 := 1 + (i*7+3)%users
			if u2 == u1 {
				u2 = 1 + u2%users
			}
			qs = append(qs, fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents + 7, version = version + 1 WHERE user_id = %d", u2))
		}
		if i%10 == 9 {
			qs = append(qs, "UPDATE rates SET rate_bp = rate_bp + 1, version = version + 1, region = 'a' WHERE name = 'prime'")
		}
		if i%25 == 12 {
			qs = append(qs, fmt.Sprintf("INSERT INTO requests (request_id, user_id, kind, from_account, to_account, amount_cents, region, receipt) VALUES ('q%d', %d, 'move', %d, %d, 7, 'a', 'rcpt-q%d')", i, u1, u1, u1, i))
		}
		if i%11 == 4 {
			qs = append(qs, fmt.Sprintf("INSERT INTO audit_log VALUES (%d, 'transfer', 'backlog %d')", u1, i))
		}
		if i%7 == 3 { // a promotion tried, then rolled back to the savepoint
			qs = append(qs, "SAVEPOINT promo",
				fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents - 500 WHERE user_id = %d", u1),
				fmt.Sprintf("INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES (%d, %d, 500, 'promo')", u1, u1),
				"ROLLBACK TO SAVEPOINT promo")
		}
		inTxn(t, a, qs...)
	}
	restartRegiond(t, st, true, "b")
	labapi.Converged(t, st, 120*time.Second)
	sameTables(t, st, "lending.users", "lending.loan_accounts", "lending.ledger_entries", "lending.rates", "lending.requests", "lending.audit_log")

	text := metrics(t, st, "b")
	count := func(name string) int {
		m := regexp.MustCompile(`regiond_apply_` + name + `\{source="a",target="b"\} (\d+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("b's metrics have no regiond_apply_%s for a->b", name)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	cut, folded, waits := count("runs_cut_total"), count("folded_transactions_total"), count("dependency_waits_total")
	t.Logf("b applied a's backlog of %d transactions: %d folded, %d runs ended where the other partition waited, %d waits", txns, folded, cut, waits)
	if cut == 0 {
		t.Errorf("no run ended where the other partition waited (%d waits): the partitions waited for each other's full runs", waits)
	}
	if folded == 0 {
		t.Errorf("no transaction of the backlog was folded")
	}
	b := openDB(t, st, "b", "lending")
	var conflicts int
	if err := b.QueryRow("SELECT COUNT(*) FROM _region.conflicts").Scan(&conflicts); err != nil || conflicts != 0 {
		t.Errorf("b logged %d conflicts (%v) for a backlog only a wrote", conflicts, err)
	}
}

// TestHaltingConflictIsLoggedOnce: b's row was changed by hand while a
// backlog of application transactions (two users' limits and a global
// row) waits for b; the conflict (reject: the default) halts a folded
// run, which is applied again one transaction at a time and meets it
// again, and an operator retries the link twice before fixing anything:
// b's conflict log holds the conflict once.
func TestHaltingConflictIsLoggedOnce(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	dbA, dbB := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	limits, totals := lab.SampleDatabase+".limits", lab.SampleDatabase+".limit_totals"
	mustExec(t, dbA, "CREATE DATABASE IF NOT EXISTS "+lab.SampleDatabase,
		"CREATE TABLE "+limits+" (id BIGINT PRIMARY KEY, amount_cents BIGINT NOT NULL)",
		"INSERT INTO "+limits+" SELECT seq, 1000 FROM "+lab.SampleDatabase+".seq_1_to_20",
		"CREATE TABLE "+totals+" (name VARCHAR(20) PRIMARY KEY, cents BIGINT NOT NULL)",
		"INSERT INTO "+totals+" VALUES ('all', 20000)")
	labapi.Converged(t, st, 30*time.Second)

	restartRegiond(t, st, false, "b")
	mustExec(t, dbB, "SET SESSION sql_log_bin = 0", "UPDATE "+limits+" SET amount_cents = -1 WHERE id = 5")
	for i := range 200 {
		inTxn(t, dbA, fmt.Sprintf("UPDATE %s SET amount_cents = amount_cents + 1 WHERE id IN (%d, %d)", limits, i%20+1, (i+7)%20+1),
			"UPDATE "+totals+" SET cents = cents + 2 WHERE name = 'all'")
	}
	restartRegiond(t, st, true, "b")
	halted := func() bool {
		s, err := status(t, st, "b")
		return err == nil && len(s.Links) == 1 && s.Links[0].State == "halted"
	}
	ctx := context.Background()
	if err := lab.WaitUntil(ctx, 60*time.Second, halted); err != nil {
		t.Fatalf("b's link did not halt on the row changed by hand: %v", err)
	}
	for range 2 {
		if out, err := regionctlIn(st, "link", "retry", "a->b", "--reason", "retried before the row is fixed"); err != nil {
			t.Fatalf("link retry: %v\n%s", err, out)
		}
		time.Sleep(time.Second) // the retry meets the conflict again
		if err := lab.WaitUntil(ctx, 30*time.Second, halted); err != nil {
			t.Fatalf("b's link did not halt again after the retry: %v", err)
		}
	}
	var n int
	if err := dbB.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'limits' AND pk = 'id=5'").Scan(&n); err != nil || n != 1 {
		t.Errorf("b logged the conflict on limits id=5 %d times (%v), want once", n, err)
	}
	var other int
	if err := dbB.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE NOT (tbl = 'limits' AND pk = 'id=5')").Scan(&other); err != nil || other != 0 {
		t.Errorf("b logged %d other conflicts (%v), want none", other, err)
	}
}
