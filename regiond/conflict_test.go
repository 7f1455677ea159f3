package regiond_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

// restartRegiond kills and starts the regiond of the given regions.
func restartRegiond(t *testing.T, st *lab.State, start bool, regions ...string) {
	t.Helper()
	for _, r := range regions {
		if err := lab.Kill(context.Background(), st.Dir, r, "regiond"); err != nil {
			t.Fatal(err)
		}
		if start {
			if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestConflictPolicies changes the same rows in both regions while
// replication is stopped, then lets the changes meet: last-writer-wins
// (a delete against an update included: the row used to stay in one
// region) and home-cell-wins converge to the expected winner with every
// conflict logged; reject halts the link.
func TestConflictPolicies(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	cfgPath := st.ConfigPath()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "    - {name: lending.ledger_entries, shard_column: user_id}",
		"    - {name: lending.ledger_entries, shard_column: user_id}\n    - {name: lending.credit_limits, shard_column: user_id, conflict: reject}", 1)
	if cfg == string(b) {
		t.Fatal("test setup: lab config has no ledger_entries line to extend")
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	restartRegiond(t, st, true, "a", "b")

	// Users homed in a and in b.
	var homeA, homeB int64
	for u := int64(1); homeA == 0 || homeB == 0; u++ {
		if st.HomeRegion(u) == 0 && homeA == 0 {
			homeA = u
		} else if st.HomeRegion(u) == 1 && homeB == 0 {
			homeB = u
		}
	}
	a, bdb := openDB(t, st, "a", "lending"), openDB(t, st, "b", "lending")
	createSchema(t, st, "a")
	mustExec(t, a, "CREATE TABLE lending.credit_limits (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, limit_cents BIGINT NOT NULL)")
	converged(t, st, 30*time.Second)
	mustExec(t, a,
		"INSERT INTO users (id, name, home_cell) VALUES ("+itoa(homeA)+", 'ann', 'a1'), ("+itoa(homeB)+", 'bob', 'b1')",
		"INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (1, "+itoa(homeA)+", 1000, 1000, 'open', 1), (2, "+itoa(homeB)+", 1000, 1000, 'open', 1), (3, "+itoa(homeA)+", 1000, 1000, 'open', 1)",
		"INSERT INTO credit_limits VALUES (1, "+itoa(homeA)+", 5000)")
	converged(t, st, 30*time.Second)

	// Replication stops; both regions change the same rows.
	restartRegiond(t, st, false, "a", "b")
	mustExec(t, a,
		"UPDATE loan_accounts SET balance_cents = 100, version = 5 WHERE id = 1",
		"UPDATE loan_accounts SET balance_cents = 1, version = 9 WHERE id = 2",
		"DELETE FROM loan_accounts WHERE id = 3",
		"UPDATE users SET name = 'ann-by-a' WHERE id = "+itoa(homeA),
		"UPDATE users SET name = 'bob-by-a' WHERE id = "+itoa(homeB))
	mustExec(t, bdb,
		"UPDATE loan_accounts SET balance_cents = 200, version = 7 WHERE id = 1",
		"UPDATE loan_accounts SET balance_cents = 2, version = 9 WHERE id = 2",
		"UPDATE loan_accounts SET balance_cents = 300, version = 8 WHERE id = 3",
		"UPDATE users SET name = 'ann-by-b' WHERE id = "+itoa(homeA),
		"UPDATE users SET name = 'bob-by-b' WHERE id = "+itoa(homeB))
	for _, r := range []string{"a", "b"} {
		if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = lab.LoadState(st.Dir)
	converged(t, st, 60*time.Second)
	sameTables(t, st, "lending.users", "lending.loan_accounts")

	want := map[string]string{
		"SELECT balance_cents FROM loan_accounts WHERE id = 1": "200",      // version 7 beats 5
		"SELECT balance_cents FROM loan_accounts WHERE id = 2": "1",        // equal versions: a sorts first
		"SELECT COUNT(*) FROM loan_accounts WHERE id = 3":      "0",        // deleted in a, updated in b: the delete wins everywhere
		"SELECT name FROM users WHERE id = " + itoa(homeA):     "ann-by-a", // ann's home is a
		"SELECT name FROM users WHERE id = " + itoa(homeB):     "bob-by-b", // bob's home is b
	}
	for q, w := range want {
		for name, db := range map[string]*sql.DB{"a": a, "b": bdb} {
			var got string
			if err := db.QueryRow(q).Scan(&got); err != nil || got != w {
				t.Errorf("region %s: %s: %q (%v), want %q", name, q, got, err, w)
			}
		}
	}
	for name, db := range map[string]*sql.DB{"a": a, "b": bdb} {
		var n int
		db.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE decision IN ('applied-incoming','kept-local') AND local_image IS NOT NULL AND incoming_after IS NOT NULL").Scan(&n)
		if n != 4 {
			t.Errorf("region %s logged %d resolved conflicts, want 4", name, n)
		}
	}

	// reject: a conflicting change halts the link and is logged.
	restartRegiond(t, st, false, "a", "b")
	mustExec(t, a, "UPDATE credit_limits SET limit_cents = 6000 WHERE id = 1")
	mustExec(t, bdb, "UPDATE credit_limits SET limit_cents = 7000 WHERE id = 1")
	for _, r := range []string{"a", "b"} {
		if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = lab.LoadState(st.Dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := status(t, st, "b")
		if err == nil && len(s.Links) == 1 && s.Links[0].State == "halted" {
			if !strings.Contains(s.Links[0].Error, "conflict on a table whose policy is reject") || !strings.Contains(s.Links[0].Error, "credit_limits") {
				t.Errorf("halt reason: %s", s.Links[0].Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link a->b did not halt on the rejected conflict")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var n int
	bdb.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE decision = 'rejected' AND tbl = 'credit_limits'").Scan(&n)
	if n == 0 {
		t.Error("rejected conflict not logged")
	}
	var limit int
	bdb.QueryRow("SELECT limit_cents FROM credit_limits WHERE id = 1").Scan(&limit)
	if limit != 7000 {
		t.Errorf("b's row changed to %d by a rejected change", limit)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDefaultConflictAppliesToUnlistedTables: replication.default_conflict
// is the policy of every table the config does not list. With reject, a
// row changed in both regions halts the link and is logged, instead of
// each region silently taking the other's value (which left a with b's
// value and b with a's).
func TestDefaultConflictAppliesToUnlistedTables(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	b, err := os.ReadFile(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "replication:\n", "replication:\n  default_conflict: reject\n", 1)
	if cfg == string(b) {
		t.Fatal("test setup: lab config has no replication section")
	}
	if err := os.WriteFile(st.ConfigPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	restartRegiond(t, st, true, "a", "b")
	a, bdb := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending", "CREATE TABLE lending.promo_codes (code VARCHAR(16) PRIMARY KEY, uses INT NOT NULL)",
		"INSERT INTO lending.promo_codes VALUES ('WELCOME', 0)")
	converged(t, st, 30*time.Second)
	restartRegiond(t, st, false, "a", "b") // no replication while both change the row
	mustExec(t, a, "UPDATE lending.promo_codes SET uses = 1")
	mustExec(t, bdb, "UPDATE lending.promo_codes SET uses = 2")
	for _, r := range []string{"a", "b"} {
		if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"a", "b"} {
		if why := haltedLink(t, st, r, time.Minute, "a row changed in both regions of an unlisted table (default_conflict: reject)"); !strings.Contains(why, "policy is reject") {
			t.Errorf("the link into %s halted for another reason: %s", r, why)
		}
	}
	for name, db := range map[string]*sql.DB{"a": a, "b": bdb} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'promo_codes' AND policy = 'reject'").Scan(&n); err != nil || n == 0 {
			t.Errorf("region %s logged no reject conflict on promo_codes (%d, %v)", name, n, err)
		}
	}
	var ua, ub int
	a.QueryRow("SELECT uses FROM lending.promo_codes").Scan(&ua)
	bdb.QueryRow("SELECT uses FROM lending.promo_codes").Scan(&ub)
	if ua != 1 || ub != 2 {
		t.Errorf("each region must keep its own value until an operator decides: a %d, b %d", ua, ub)
	}
}
