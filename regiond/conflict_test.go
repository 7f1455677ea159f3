package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/guard"
	"github.com/regionplatform/region/topo"
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
// and home-cell-wins converge to the expected winner with every conflict
// logged; reject (credit_limits is not listed: the default) halts the
// link. Last-writer-wins cases include a delete against a newer update
// (the row used to stay in one region only), a key deleted and inserted
// again against the other region's update, and a key both regions insert
// while one deletes it: the last two diverged before tombstones
// (cdc/tombstone). Home-cell-wins decides by who owned the user when
// each change was written: dave's bucket moves from a to b after both
// regions changed him and before the changes meet, and a's change (made
// by his owner then, in an application's transaction of two users and a
// ledger row through the data-access guard, which stamps it) wins in both
// regions; deciding by the owner when a change arrives made b's win
// (cdc/claim).
func TestConflictPolicies(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	// Users homed in a and in b.
	var homeA, homeB, carl, dave int64
	for u := int64(1); homeA == 0 || homeB == 0 || carl == 0 || dave == 0; u++ {
		switch {
		case st.HomeRegion(u) == 0 && homeA == 0:
			homeA = u
		case st.HomeRegion(u) == 0 && carl == 0:
			carl = u
		case st.HomeRegion(u) == 0 && dave == 0:
			dave = u
		case st.HomeRegion(u) == 1 && homeB == 0:
			homeB = u
		}
	}
	a, bdb := openDB(t, st, "a", "lending"), openDB(t, st, "b", "lending")
	createSchema(t, st, "a")
	mustExec(t, a, "CREATE TABLE lending.credit_limits (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, limit_cents BIGINT NOT NULL)")
	labapi.Converged(t, st, 30*time.Second)
	mustExec(t, a,
		"INSERT INTO users (id, name, home_cell) VALUES ("+itoa(homeA)+", 'ann', 'a1'), ("+itoa(homeB)+", 'bob', 'b1'), ("+itoa(carl)+", 'carl', 'a1'), ("+itoa(dave)+", 'dave', 'a1')",
		"INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (1, "+itoa(homeA)+", 1000, 1000, 'open', 1), (2, "+itoa(homeB)+", 1000, 1000, 'open', 1), (3, "+itoa(homeA)+", 1000, 1000, 'open', 1), (4, "+itoa(homeA)+", 1000, 1000, 'open', 1), (5, "+itoa(homeB)+", 1000, 1000, 'open', 1), (6, "+itoa(homeA)+", 1000, 1000, 'open', 1)",
		"INSERT INTO credit_limits VALUES (1, "+itoa(homeA)+", 5000)")
	labapi.Converged(t, st, 30*time.Second)

	// Replication stops; both regions change the same rows.
	restartRegiond(t, st, false, "a", "b")
	mustExec(t, a,
		"UPDATE loan_accounts SET balance_cents = 100, version = 5 WHERE id = 1",
		"UPDATE loan_accounts SET balance_cents = 1, version = 9 WHERE id = 2",
		"DELETE FROM loan_accounts WHERE id = 3",
		"UPDATE users SET version = version + 1, name = 'bob-by-a' WHERE id = "+itoa(homeB),
		"DELETE FROM users WHERE id = "+itoa(carl),
		"UPDATE loan_accounts SET balance_cents = 400, version = 9 WHERE id = 4",
		// Loan 6 deleted and inserted again (with a version above the
		// deleted one); loan 7 inserted and deleted.
		"DELETE FROM loan_accounts WHERE id = 6",
		"INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (6, "+itoa(homeA)+", 600, 600, 'open', 3)",
		"INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (7, "+itoa(homeA)+", 700, 700, 'open', 2)",
		"DELETE FROM loan_accounts WHERE id = 7")
	// a's application renames ann and dave (both its users) and books a
	// ledger row in one transaction through the data-access guard, which
	// stamps it with the epoch and cell: dave's conflict below is decided
	// by that stamp, not by the commit time.
	guardedTxn(t, st, a, []string{itoa(homeA), itoa(dave)},
		"UPDATE users SET version = version + 1, name = 'ann-by-a' WHERE id = "+itoa(homeA),
		"UPDATE users SET version = version + 1, name = 'dave-by-a' WHERE id = "+itoa(dave),
		"INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES ("+itoa(homeA)+", 1, 25, 'fee')")
	// An application's transaction: two users' loans and a ledger row,
	// loan 4 changed twice. Loan 4 loses to a's higher version, with both
	// its changes; loan 5 and the ledger row apply all the same.
	inTxn(t, bdb,
		"UPDATE loan_accounts SET balance_cents = 40, version = 2 WHERE id = 4",
		"UPDATE loan_accounts SET balance_cents = 50, version = 2 WHERE id = 5",
		"INSERT INTO ledger_entries (user_id, account_id, amount_cents, kind) VALUES ("+itoa(homeB)+", 5, 50, 'payment')",
		"UPDATE loan_accounts SET balance_cents = 41, version = 3 WHERE id = 4")
	mustExec(t, bdb,
		"UPDATE loan_accounts SET balance_cents = 200, version = 7 WHERE id = 1",
		"UPDATE loan_accounts SET balance_cents = 2, version = 9 WHERE id = 2",
		"UPDATE loan_accounts SET balance_cents = 300, version = 8 WHERE id = 3",
		"UPDATE loan_accounts SET balance_cents = 60, version = 4 WHERE id = 6",
		"INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (7, "+itoa(homeA)+", 70, 70, 'open', 1)",
		"UPDATE users SET version = version + 1, name = 'ann-by-b' WHERE id = "+itoa(homeA),
		"UPDATE users SET version = version + 1, name = 'dave-by-b' WHERE id = "+itoa(dave),
		"UPDATE users SET version = version + 1, name = 'bob-by-b' WHERE id = "+itoa(homeB),
		// Carl (homed in a, which deletes him) deleted in b and inserted
		// again, at a version above the deleted one.
		"DELETE FROM users WHERE id = "+itoa(carl),
		"INSERT INTO users (id, name, home_cell, version) VALUES ("+itoa(carl)+", 'carl-again', 'a1', 2)")
	// Dave's bucket moves to b1, later than the clock skew History
	// allows an unstamped change's commit time.
	time.Sleep(router.ClockSkew + 2*time.Second)
	moveBucket(t, st, topo.BucketOfString(itoa(dave), st.Buckets), "b1")
	for _, r := range []string{"a", "b"} {
		if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = lab.LoadState(st.Dir)
	labapi.Converged(t, st, 60*time.Second)
	sameTables(t, st, "lending.users", "lending.loan_accounts", "lending.ledger_entries")

	want := map[string]string{
		"SELECT balance_cents FROM loan_accounts WHERE id = 4":     "400", // version 9 beats both of b's changes
		"SELECT balance_cents FROM loan_accounts WHERE id = 5":     "50",  // the rest of b's transaction applies
		"SELECT COUNT(*) FROM ledger_entries WHERE account_id = 5": "1",
		"SELECT balance_cents FROM loan_accounts WHERE id = 1":     "200",       // version 7 beats 5
		"SELECT balance_cents FROM loan_accounts WHERE id = 2":     "2",         // equal versions: b's row sorts after a's (balance 2 > 1)
		"SELECT balance_cents FROM loan_accounts WHERE id = 3":     "300",       // deleted in a at version 1, updated in b to version 8: the update is newer
		"SELECT balance_cents FROM loan_accounts WHERE id = 6":     "60",        // b's update (version 4) beats a's re-insert (version 3)
		"SELECT COUNT(*) FROM loan_accounts WHERE id = 7":          "0",         // a deleted its version 2; b's version 1 is older
		"SELECT name FROM users WHERE id = " + itoa(homeA):         "ann-by-a",  // ann's home is a
		"SELECT name FROM users WHERE id = " + itoa(homeB):         "bob-by-b",  // bob's home is b
		"SELECT name FROM users WHERE id = " + itoa(dave):          "dave-by-a", // a owned dave when both wrote
		// b's re-insert (version 2) is newer than a's delete (of version
		// 1), although a is carl's home: it stood in a and was deleted in
		// b before home-cell-wins had versions and tombstones.
		"SELECT name FROM users WHERE id = " + itoa(carl): "carl-again",
	}
	for q, w := range want {
		for name, db := range map[string]*sql.DB{"a": a, "b": bdb} {
			var got string
			if err := db.QueryRow(q).Scan(&got); err != nil || got != w {
				t.Errorf("region %s: %s: %q (%v), want %q", name, q, got, err, w)
			}
		}
	}
	// Conflicts between two rows: loans 1, 2, 4 and ann, bob and dave in each
	// region; loan 6 in each (b's update in a, a's re-insert in b); loan
	// 7 in b (a's insert meets b's). In a, b's inserts of loan 7 and
	// carl meet a's tombstones; in b, a's delete of carl meets b's
	// re-insert (below).
	for name, c := range map[string]struct {
		db   *sql.DB
		want int
	}{"a": {a, 7}, "b": {bdb, 8}} {
		var n int
		c.db.QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE decision IN ('applied-incoming','kept-local') AND local_image IS NOT NULL AND incoming_after IS NOT NULL").Scan(&n)
		if n != c.want {
			t.Errorf("region %s logged %d conflicts between two rows, want %d", name, n, c.want)
		}
	}
	var reason string
	a.QueryRow("SELECT reason FROM _region.conflicts WHERE tbl = 'loan_accounts' AND pk = 'id=7' AND decision = 'kept-local'").Scan(&reason)
	if !strings.Contains(reason, "a deleted the row here") {
		t.Errorf("region a: b's insert of loan 7 against a's tombstone: logged reason %q", reason)
	}
	for name, c := range map[string]struct {
		db             *sql.DB
		decision, says string
	}{"a": {a, "applied-incoming", "higher than the one a deleted here"}, "b": {bdb, "kept-local", "local version is higher than the deleted one"}} {
		reason = ""
		c.db.QueryRow("SELECT reason FROM _region.conflicts WHERE tbl = 'users' AND pk = 'id="+itoa(carl)+"' AND decision = ?", c.decision).Scan(&reason)
		if !strings.Contains(reason, c.says) {
			t.Errorf("region %s: carl's conflict %s with reason %q, want one saying %q", name, c.decision, reason, c.says)
		}
	}

	// a's capture claimed its rename of dave with the guard's stamp.
	var epoch uint64
	var cell string
	a.QueryRow("SELECT epoch, cell FROM _region.claims WHERE tbl = 'users' AND origin = 'a' AND pk = 'id="+itoa(dave)+"'").Scan(&epoch, &cell)
	if epoch == 0 || cell != "a1" {
		t.Errorf("a's claim of dave: epoch %d, cell %q; want the guard's stamp (cell a1)", epoch, cell)
	}
	for name, db := range map[string]*sql.DB{"a": a, "b": bdb} {
		reason = ""
		db.QueryRow("SELECT reason FROM _region.conflicts WHERE tbl = 'users' AND pk = 'id=" + itoa(dave) + "'").Scan(&reason)
		if !strings.Contains(reason, "a owned it at epoch") || !strings.Contains(reason, "b did not own it at epoch") {
			t.Errorf("region %s: dave's conflict logged with reason %q, want a's ownership against b's", name, reason)
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
// is the policy of every table the config does not list, and it is reject
// unless set: a row changed in both regions halts the link and is logged,
// instead of each region silently taking the other's value (which left a
// with b's value and b with a's).
func TestDefaultConflictAppliesToUnlistedTables(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, bdb := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending", "CREATE TABLE lending.promo_codes (code VARCHAR(16) PRIMARY KEY, uses INT NOT NULL)",
		"INSERT INTO lending.promo_codes VALUES ('WELCOME', 0)")
	labapi.Converged(t, st, 30*time.Second)
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

// TestHomeCellWinsWithThreeRegions: with three regions, a row's change
// can meet a competing one in a region that made neither. User 1 (homed
// in a) is renamed in all three regions while replication is cut: a's
// name must win everywhere, including in c when b's change arrives after
// a's (c must know its row holds the owner's change: _region.origins).
// User 2 (homed in a too) is renamed only in b and c, neither its home:
// every region must pick the same of the two. User 3 (homed in a) is
// renamed by a and then by b on top of a's change, and c receives b's
// change first: b's, made later (a higher version), must stand in c too.
func TestHomeCellWinsWithThreeRegions(t *testing.T) {
	st := labtest.Up(t, "a", "b", "c")
	regions := []string{"a", "b", "c"}
	dbs := map[string]*sql.DB{}
	for _, r := range regions {
		dbs[r] = openDB(t, st, r, "lending")
	}
	var users []int64
	for u := int64(1); len(users) < 3; u++ {
		if st.HomeRegion(u) == 0 {
			users = append(users, u)
		}
	}
	createSchema(t, st, "a")
	mustExec(t, dbs["a"], fmt.Sprintf("INSERT INTO users (id, name, home_cell) VALUES (%d, 'ann', 'a1'), (%d, 'bob', 'a1'), (%d, 'carl', 'a1')", users[0], users[1], users[2]))
	labapi.Converged(t, st, 30*time.Second)

	restartRegiond(t, st, false, regions...)
	mustExec(t, dbs["a"], fmt.Sprintf("UPDATE users SET version = version + 1, name = 'ann-by-a' WHERE id = %d", users[0]))
	for _, r := range []string{"b", "c"} {
		mustExec(t, dbs[r], fmt.Sprintf("UPDATE users SET version = version + 1, name = CONCAT(name, '-by-%s') WHERE id IN (%d, %d)", r, users[0], users[1]))
	}
	// a and c first: c applies a's change; then b's arrives in c, where
	// the row is a's (not c's own) and must stay.
	start := func(r string) {
		if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	// wait waits until region r holds name for user u.
	wait := func(r string, u int64, name string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for got := ""; got != name; time.Sleep(200 * time.Millisecond) {
			dbs[r].QueryRow(fmt.Sprintf("SELECT name FROM users WHERE id = %d", u)).Scan(&got)
			if time.Now().After(deadline) {
				t.Fatalf("%s did not get user %d's name %q within a minute (it holds %q)", r, u, name, got)
			}
		}
	}
	start("a")
	start("c")
	wait("c", users[0], "ann-by-a")
	start("b")
	st, _ = lab.LoadState(st.Dir)
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.users")
	for _, r := range regions {
		var n1, n2 string
		dbs[r].QueryRow(fmt.Sprintf("SELECT name FROM users WHERE id = %d", users[0])).Scan(&n1)
		dbs[r].QueryRow(fmt.Sprintf("SELECT name FROM users WHERE id = %d", users[1])).Scan(&n2)
		if n1 != "ann-by-a" {
			t.Errorf("region %s: user %d is %q, want the home region's ann-by-a", r, users[0], n1)
		}
		if n2 != "bob-by-c" { // {"name": "bob-by-c"} sorts after {"name": "bob-by-b"}
			t.Errorf("region %s: user %d is %q, want bob-by-c", r, users[1], n2)
		}
	}
	var n int
	dbs["a"].QueryRow("SELECT COUNT(*) FROM _region.origins WHERE tbl = 'users'").Scan(&n)
	if n == 0 {
		t.Error("region a recorded no origin for the users it applied")
	}

	// A chain arriving out of order: a renames carl, b renames him once
	// a's change is there, and c receives b's change while a's broker is
	// down, then a's. Before home-cell-wins had versions, c let the home
	// region's older change win and kept it for good.
	restartRegiond(t, st, false, regions...)
	mustExec(t, dbs["a"], fmt.Sprintf("UPDATE users SET version = version + 1, name = 'carl-by-a' WHERE id = %d", users[2]))
	start("a")
	start("b")
	wait("b", users[2], "carl-by-a")
	mustExec(t, dbs["b"], fmt.Sprintf("UPDATE users SET version = version + 1, name = 'carl-by-b' WHERE id = %d", users[2]))
	wait("a", users[2], "carl-by-b")
	if err := lab.Kill(context.Background(), st.Dir, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	start("c")
	wait("c", users[2], "carl-by-b")
	if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	st, _ = lab.LoadState(st.Dir)
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.users")
	for _, r := range regions {
		var name string
		dbs[r].QueryRow(fmt.Sprintf("SELECT name FROM users WHERE id = %d", users[2])).Scan(&name)
		if name != "carl-by-b" {
			t.Errorf("region %s: user %d is %q, want b's later carl-by-b", r, users[2], name)
		}
	}
	var reason string
	dbs["c"].QueryRow(fmt.Sprintf("SELECT reason FROM _region.conflicts WHERE tbl = 'users' AND pk = 'id=%d' AND source = 'a'", users[2])).Scan(&reason)
	if !strings.Contains(reason, "local version is higher") {
		t.Errorf("c: a's older change of carl logged with reason %q, want the local version higher", reason)
	}
}

// routingStore opens the lab's routing table in etcd, as regiond's
// config says; it is closed when the test ends.
func routingStore(t *testing.T, st *lab.State) *router.Store {
	t.Helper()
	cfg, err := config.Load(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	etcd, err := dial.Etcd(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	return router.NewStore(etcd, cfg.Etcd.Prefix)
}

// runGuard runs a data-access guard of the lab (cfg without its Store)
// until the test ends, its table loaded.
func runGuard(t *testing.T, st *lab.State, cfg guard.Config) *guard.Guard {
	t.Helper()
	cfg.Store = routingStore(t, st)
	// As an application does, from replication.topic.partitions.
	cfg.Partitions = int(st.PartitionCount())
	g, err := guard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-g.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the guard never loaded the routing table")
	}
	return g
}

// moveBucket moves bucket b to cell in the routing table, as a switch's
// fence and flip do, straight in etcd (regiond need not run).
func moveBucket(t *testing.T, st *lab.State, b topo.Bucket, cell string) {
	t.Helper()
	ctx := context.Background()
	store := routingStore(t, st)
	r := []topo.Range{{First: b, Last: b}}
	if _, err := store.Update(ctx, router.Change{Kind: "fence", Actor: "test", Switch: "move", Time: time.Now()}, func(t *router.Table) error { return t.Fence(r, "move") }); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, router.Change{Kind: "flip", Actor: "test", Switch: "move", Time: time.Now()}, func(t *router.Table) error { return t.Flip("move", cell) }); err != nil {
		t.Fatal(err)
	}
}

// guardedTxn runs qs in one transaction of db through a data-access
// guard of region a (router/guard) declaring the users keys, as the lab's
// application does: committed only while a owns them, and stamped.
func guardedTxn(t *testing.T, st *lab.State, db *sql.DB, keys []string, qs ...string) {
	t.Helper()
	ctx := context.Background()
	g := runGuard(t, st, guard.Config{ID: "test-guard", Region: "a"})
	tx, err := g.Begin(ctx, db, nil, keys...)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("the guarded transaction: %v", err)
	}
}
