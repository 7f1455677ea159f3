package traffic

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// stuck is replication that never catches up: a switch fences and then
// waits for it until its context ends.
type stuck struct{}

func (stuck) Position(ctx context.Context, _ string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}
func (stuck) Link(_ context.Context, from, to string) (Link, error) {
	return Link{From: from, To: to, State: "running", AppliedGTID: "1-1-1"}, nil
}
func (stuck) Covers(_, a, b string) (bool, error) { return a == b, nil }

// TestReapLiftsTheFenceOfADeadSwitch: a switch fences its buckets and its
// process dies (its owner lease ends without the switch's own clean-up);
// Reap, from another switcher, lifts the fence and records the switch
// aborted, while it leaves a switch whose process lives alone.
func TestReapLiftsTheFenceOfADeadSwitch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := labtest.Etcd(t)
	store := router.NewStore(c, "/t/")
	if _, err := store.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	newSwitcher := func() *Switcher {
		cfg := DefaultConfig()
		cfg.Store, cfg.Replication, cfg.AckTimeout = store, stuck{}, time.Second
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dying, reaper := newSwitcher(), newSwitcher()
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _, _ = dying.Execute(ctx, Request{Buckets: "0-3", To: "b1", Reason: "move", Actor: "alice"}) })

	var rec Record
	fenced := func() int {
		tb, _, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if active, _, _ := dying.List(ctx); len(active) == 1 {
			rec = active[0]
			return len(tb.Fenced(rec.ID))
		}
		return 0
	}
	for deadline := time.Now().Add(10 * time.Second); fenced() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the switch never fenced its buckets")
		}
	}
	// Alive: Reap leaves it alone.
	if reaped, err := reaper.Reap(ctx, "controller"); err != nil || len(reaped) != 0 {
		t.Fatalf("reap of a live switch: %v %v", reaped, err)
	}
	// The process "dies": its owner lease ends, its goroutine is stuck.
	owner, err := c.Get(ctx, dying.ownerKey(rec.ID))
	if err != nil || len(owner.Kvs) != 1 {
		t.Fatalf("owner key: %v %v", owner, err)
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(owner.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	reaped, err := reaper.Reap(ctx, "controller")
	if err != nil || len(reaped) != 1 || reaped[0].ID != rec.ID {
		t.Fatalf("reap of a dead switch: %+v %v", reaped, err)
	}
	if n := fenced(); n != 0 {
		t.Fatalf("%d buckets still write-forbidden by the dead switch", n)
	}
	got, err := reaper.Get(ctx, rec.ID)
	if err != nil || got.State != Aborted || !strings.Contains(got.Error, "aborted by controller: the process running the switch stopped") {
		t.Fatalf("the reaped switch's record: %+v %v", got, err)
	}
	tb, _, _ := store.Load(ctx)
	for b := topo.Bucket(0); b <= 3; b++ {
		if o := tb.Owner(b); o.Cell != "a1" || o.State != router.Serving {
			t.Fatalf("bucket %d after the reap: %+v", b, o)
		}
	}
	// The buckets can be switched again.
	if _, err := reaper.DryRun(ctx, Request{Buckets: "0-3", To: "b1", Reason: "again"}); err != nil {
		t.Fatalf("after the reap: %v", err)
	}
	if active, _, _ := reaper.List(ctx); len(active) != 0 {
		t.Fatalf("switches still running after the reap: %+v", active)
	}

	// Claims with neither owner nor record: one being prepared now stays,
	// one left long ago by a process that died then is dropped.
	fresh, old := newID(time.Now()), "sw-20200101T000000-abcdef"
	rg, _ := topo.ParseBuckets("8-9", 16)
	rg2, _ := topo.ParseBuckets("10", 16)
	if err := reaper.reserve(ctx, fresh, rg, 16); err != nil {
		t.Fatal(err)
	}
	if err := reaper.reserve(ctx, old, rg2, 16); err != nil {
		t.Fatal(err)
	}
	if _, err := reaper.Reap(ctx, "controller"); err != nil {
		t.Fatal(err)
	}
	claims, err := reaper.reservations(ctx)
	if err != nil || len(claims) != 1 || claims[0].ID != fresh {
		t.Fatalf("claims after the reap: %+v %v, want only %s", claims, err, fresh)
	}
}
