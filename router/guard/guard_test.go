package guard_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/guard"
	"github.com/regionplatform/region/topo"
)

// TestGuardOnMariaDB runs a guard of region a against a real etcd and a
// real MariaDB: a user of a's cell commits and is stamped, a user of b's
// is refused, a fence between Begin and Commit refuses the commit and
// leaves nothing written, a write of global tables stops when the region
// is fenced, and a switch's fence is not acknowledged while a
// transaction admitted under the older table is still committing.
// (make test-unit skips it: it starts a MariaDB.)
func TestGuardOnMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := router.NewStore(labtest.Etcd(t), "/t/")
	if ok, err := store.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); !ok || err != nil {
		t.Fatalf("init the table: %v %v", ok, err)
	}
	db := labtest.MariaDB(t)
	for _, q := range []string{"CREATE DATABASE _region", binlog.StampSchema, "CREATE DATABASE lending",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	g, err := guard.New(guard.Config{Store: store, ID: "test-guard", Region: "a"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = g.Run(rctx) }()
	defer wg.Wait()
	defer stop()
	<-g.Ready()

	// Users of a1 (buckets 0-7) and b1 (8-15).
	var inA, inB []string
	for u := 1; len(inA) < 3 || len(inB) < 1; u++ {
		k := strconv.Itoa(u)
		if topo.BucketOfString(k, 16) < 8 {
			inA = append(inA, k)
		} else {
			inB = append(inB, k)
		}
	}
	write := func(id int, keys ...string) error {
		tx, err := g.Begin(ctx, db, nil, keys...)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO lending.loans VALUES (?, ?)", id, keys[0]); err != nil {
				t.Fatal(err)
			}
		}
		return tx.Commit()
	}
	rows := func(id int) (n int) {
		db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lending.loans WHERE id = ?", id).Scan(&n)
		return n
	}

	if err := write(1, inA[0], inA[1]); err != nil || rows(1) != 1 {
		t.Fatalf("a user of a's cell: %v, %d rows", err, rows(1))
	}
	var cell string
	var epoch uint64
	if err := db.QueryRowContext(ctx, "SELECT cell, epoch FROM _region.txn_stamps").Scan(&cell, &epoch); err != nil || cell != "a1" || epoch != 1 {
		t.Errorf("stamp = %q %d (%v), want a1 at epoch 1", cell, epoch, err)
	}
	if err := write(2, inA[0], inB[0]); !errors.Is(err, guard.ErrNotOwner) || rows(2) != 0 {
		t.Errorf("a transaction that also writes a user of b's cell: %v, %d rows; want ErrNotOwner and nothing", err, rows(2))
	}

	// A fence between Begin and Commit.
	tx, err := g.Begin(ctx, db, nil, inA[2])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO lending.loans VALUES (3, ?)", inA[2]); err != nil {
		t.Fatal(err)
	}
	b := topo.BucketOfString(inA[2], 16)
	fence(t, ctx, store, g, b, "s1")
	if err := tx.Commit(); !errors.Is(err, guard.ErrFenced) || rows(3) != 0 {
		t.Errorf("commit after the bucket was fenced: %v, %d rows; want ErrFenced and nothing", err, rows(3))
	}
	if err := write(4, inA[0]); err != nil {
		t.Errorf("another bucket of a's cell: %v", err)
	}

	// A write of global tables, then the region fenced.
	if err := write(5); err != nil {
		t.Errorf("a write of global tables: %v", err)
	}
	if _, err := store.Update(ctx, router.Change{Kind: "fence-region", Actor: "test"}, func(t *router.Table) error { return t.FenceRegion("a", "test") }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the guard to see region a fenced", func() bool { err := write(6); return errors.Is(err, guard.ErrFenced) })
	if _, err := store.Update(ctx, router.Change{Kind: "unfence-region", Actor: "test"}, func(t *router.Table) error { return t.UnfenceRegion("a") }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the guard to see region a unfenced", func() bool { return write(7) == nil })

	// A commit admitted under the older table holds back the guard's
	// acknowledgement of a fence: another connection holds the lock of
	// the committing connection's stamp row.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id uint64
	conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id)
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "INSERT INTO _region.txn_stamps VALUES (?, 'x', 0, 1, NOW(6)) ON DUPLICATE KEY UPDATE n = n + 1", id); err != nil {
		t.Fatal(err)
	}
	slow, err := g.Begin(ctx, conn, nil, inA[1])
	if err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() { committed <- slow.Commit() }()
	time.Sleep(300 * time.Millisecond) // the commit is checked and waits for the lock
	before := acked(t, ctx, store)
	fenced := fence(t, ctx, store, nil, topo.BucketOfString(inA[0], 16), "s2")
	time.Sleep(time.Second)
	if got := acked(t, ctx, store); got >= fenced {
		t.Errorf("the guard acknowledged epoch %d while a commit admitted under epoch %d was running", got, before)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Errorf("the commit admitted before the fence: %v", err)
	}
	waitFor(t, "the guard to acknowledge the fence once the commit ended", func() bool { return acked(t, ctx, store) >= fenced })
}

// fence fences bucket b for switch id and returns the new epoch; with a
// guard, it waits until the guard serves it.
func fence(t *testing.T, ctx context.Context, store *router.Store, g *guard.Guard, b topo.Bucket, id string) uint64 {
	t.Helper()
	tb, err := store.Update(ctx, router.Change{Kind: "fence", Actor: "test", Switch: id}, func(t *router.Table) error {
		return t.Fence([]topo.Range{{First: b, Last: b}}, id)
	})
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		waitFor(t, "the guard to serve the fence", func() bool { return acked(t, ctx, store) >= tb.Epoch })
	}
	return tb.Epoch
}

// acked is the epoch the guard reports applied in the router registry.
func acked(t *testing.T, ctx context.Context, store *router.Store) uint64 {
	t.Helper()
	rs, err := store.Routers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == "test-guard" {
			if r.Kind != "guard" || r.Region != "a" {
				t.Errorf("the guard registered as %+v", r)
			}
			return r.Epoch
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestGuardGlobalTablesOnMariaDB: a guard of region a commits a write of
// global table lending.products (home a) with a user's row and stamps
// it; a guard of region b refuses it naming the home; a move's fence
// refuses it between Begin and Commit; after the flip to b, b's guard
// commits it and a's refuses it; a table that is not global is refused
// as a mistake in the declaration.
func TestGuardGlobalTablesOnMariaDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := labtest.TwoCells()
	cfg.Replication.Tables = append(cfg.Replication.Tables, config.Table{Name: "lending.products", Class: config.ClassGlobal, Home: "a"})
	store := router.NewStore(labtest.Etcd(t), "/g/")
	if _, err := store.Init(ctx, router.Initial(cfg, time.Now())); err != nil {
		t.Fatal(err)
	}
	db := labtest.MariaDB(t)
	for _, q := range []string{"CREATE DATABASE _region", binlog.StampSchema, "CREATE DATABASE lending",
		"CREATE TABLE lending.products (id BIGINT PRIMARY KEY, rate DECIMAL(6,3) NOT NULL)",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	guards := map[string]*guard.Guard{}
	for region, id := range map[string]string{"a": "test-guard", "b": "guard-b"} { // acked reads test-guard
		g, err := guard.New(guard.Config{Store: store, ID: id, Region: region})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Run(rctx) }()
		<-g.Ready()
		guards[region] = g
	}
	var user string // a user of a1 (buckets 0-7)
	for u := 1; user == ""; u++ {
		if topo.BucketOfString(strconv.Itoa(u), 16) < 8 {
			user = strconv.Itoa(u)
		}
	}
	n := 0
	write := func(region string, w guard.Writes) error {
		n++
		tx, err := guards[region].BeginWrites(ctx, db, nil, w)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO lending.products VALUES (?, 1.5)", n); err != nil {
			t.Fatal(err)
		}
		return tx.Commit()
	}
	products := guard.Writes{Tables: []string{"lending.products"}}
	if err := write("a", guard.Writes{Users: []string{user}, Tables: products.Tables}); err != nil {
		t.Fatalf("a write in the home with a user of its cell: %v", err)
	}
	var epoch uint64
	if err := db.QueryRowContext(ctx, "SELECT epoch FROM _region.txn_stamps").Scan(&epoch); err != nil || epoch != 1 {
		t.Errorf("stamp epoch %d (%v), want 1", epoch, err)
	}
	err := write("b", products)
	if !errors.Is(err, guard.ErrNotOwner) || !strings.Contains(err.Error(), "written in region a, its home") {
		t.Errorf("a write outside the home: %v; want ErrNotOwner naming a", err)
	}
	if err := write("a", guard.Writes{Tables: []string{"lending.loans"}}); err == nil || !strings.Contains(err.Error(), "not a global table") {
		t.Errorf("a unit table declared as global: %v", err)
	}

	// A move's fence between Begin and Commit, then the flip to b.
	tx, err := guards["a"].BeginWrites(ctx, db, nil, products)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO lending.products VALUES (100, 2)"); err != nil {
		t.Fatal(err)
	}
	tb, err := store.Update(ctx, router.Change{Kind: "fence", Actor: "test", Switch: "m1"}, func(t *router.Table) error {
		return t.FenceGlobals([]string{"lending.products"}, "m1")
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the guard to serve the fence", func() bool { return acked(t, ctx, store) >= tb.Epoch })
	if err := tx.Commit(); !errors.Is(err, guard.ErrFenced) {
		t.Errorf("commit after the table was fenced: %v; want ErrFenced", err)
	}
	var rows int
	if db.QueryRowContext(ctx, "SELECT COUNT(*) FROM lending.products WHERE id = 100").Scan(&rows); rows != 0 {
		t.Error("the refused commit wrote its row")
	}
	if _, err := store.Update(ctx, router.Change{Kind: "flip", Actor: "test", Switch: "m1"}, func(t *router.Table) error { return t.Flip("m1", "b1") }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's guard to write the table", func() bool { return write("b", products) == nil })
	if err := write("a", products); !errors.Is(err, guard.ErrNotOwner) {
		t.Errorf("a's write after the home moved to b: %v; want ErrNotOwner", err)
	}
}
