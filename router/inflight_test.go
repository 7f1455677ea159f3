package router

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regionplatform/region/topo"
)

// settleReturns runs f.Settle(epoch) and fails the test if it has not
// returned within 10s.
func settleReturns(t *testing.T, f *Inflight, epoch uint64) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.Settle(context.Background(), epoch, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Settle(%d) did not return", epoch)
	}
}

func TestInflightSettleWaitsForOlderGenerationsOnly(t *testing.T) {
	f := NewInflight(time.Minute, nil)
	old := f.Enter()
	done := make(chan struct{})
	go func() { f.Settle(context.Background(), 2, nil); close(done) }()
	// Settle(2) is waiting for old; its swap is serialised with this
	// second Settle, which then waits for the same write.
	settled3 := make(chan struct{})
	go func() { f.Settle(context.Background(), 3, nil); close(settled3) }()
	old.Leave()
	for _, ch := range []chan struct{}{done, settled3} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("Settle did not return after the old write ended")
		}
	}
	cur := f.Enter() // admitted after Settle(3): not older than 3
	settleReturns(t, f, 3)
	if f.Running() != 1 {
		t.Fatalf("running %d, want 1", f.Running())
	}
	cur.Leave()
	if f.Running() != 0 || f.Timeouts() != 0 {
		t.Fatalf("running %d timeouts %d, want 0 0", f.Running(), f.Timeouts())
	}
}

func TestInflightSettleGivesUpAtTheBoundAndRemembers(t *testing.T) {
	f := NewInflight(20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	stuck := f.Enter()
	settleReturns(t, f, 1)
	settleReturns(t, f, 2) // the stuck write is older than 2 too
	if f.Timeouts() != 2 {
		t.Fatalf("timeouts %d, want 2", f.Timeouts())
	}
	stuck.Leave()
	settleReturns(t, f, 3)
	if f.Timeouts() != 2 || f.Running() != 0 {
		t.Fatalf("after the write ended: timeouts %d running %d, want 2 0", f.Timeouts(), f.Running())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f2 := NewInflight(time.Hour, nil)
	f2.Enter()
	f2.Settle(ctx, 1, nil) // returns: ctx ended
}

// routesOf is a table of len(cells) buckets, bucket b in cells[b]
// (region = the cell's first letter), write-forbidden where fenced[b].
func routesOf(cells string, fenced ...int) []Route {
	out := make([]Route, len(cells))
	for b, c := range cells {
		out[b] = Route{Bucket: topo.Bucket(b), Cell: string(c) + "1", Region: string(c)}
	}
	for _, b := range fenced {
		out[b].WriteForbidden = true
	}
	return out
}

// settleAsync runs Settle in the background; the channel closes when it
// returns.
func settleAsync(f *Inflight, epoch uint64, routes []Route) chan struct{} {
	done := make(chan struct{})
	go func() { f.Settle(context.Background(), epoch, routes); close(done) }()
	return done
}

func returned(ch chan struct{}, within time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func TestInflightSettleWaitsOnlyWhereTheRouteChanges(t *testing.T) {
	f := NewInflight(time.Minute, nil)
	settleReturns(t, f, 1) // the first table: nothing to wait for
	f.Settle(context.Background(), 1, routesOf("aabb"))
	// Settle(1) again with the routes installs nothing: the generation of
	// epoch 1 is still the one from the first call, without routes. Take
	// epoch 2 as the first known table.
	f.Settle(context.Background(), 2, routesOf("aabb"))
	in1 := f.Enter()
	in1.Route(1)
	in2 := f.Enter()
	in2.Route(2)
	global := f.Enter() // no bucket: waited for by every Settle
	// Epoch 3 fences bucket 2: it waits for in2 and the global write, not in1.
	done := settleAsync(f, 3, routesOf("aabb", 2))
	if returned(done, 200*time.Millisecond) {
		t.Fatal("Settle(3) returned while a write in the bucket it fences ran")
	}
	in2.Leave()
	if returned(done, 200*time.Millisecond) {
		t.Fatal("Settle(3) returned while a write without a bucket ran")
	}
	global.Leave()
	if !returned(done, 10*time.Second) {
		t.Fatal("Settle(3) waited for a write in bucket 1, which it routes as before")
	}
	if f.Running() != 1 {
		t.Fatalf("running %d, want 1 (the write in bucket 1)", f.Running())
	}
	// Epoch 4 moves bucket 1 to cell b1: now in1 is waited for.
	done = settleAsync(f, 4, routesOf("abbb"))
	if returned(done, 200*time.Millisecond) {
		t.Fatal("Settle(4) returned while a write in the bucket it moves ran")
	}
	in1.Leave()
	in1.Leave() // a second Leave is a no-op
	if !returned(done, 10*time.Second) {
		t.Fatal("Settle(4) did not return once the write ended")
	}
	if f.Running() != 0 || f.Timeouts() != 0 {
		t.Fatalf("running %d timeouts %d, want 0 0", f.Running(), f.Timeouts())
	}
}

// TestInflightNoOlderWriteOutlivesSettle runs writers that route by
// whatever table is published, as a gateway does, while epochs fence and
// move buckets, and checks after every Settle that no write routed by an
// older table is running in a bucket the new table routes differently.
func TestInflightNoOlderWriteOutlivesSettle(t *testing.T) {
	f := NewInflight(time.Minute, nil)
	type table struct {
		epoch  uint64
		routes []Route
	}
	tables := []string{"aaaabbbb", "abaabbab", "bbbbaaaa", "aabbaabb"}
	var published atomic.Pointer[table]
	first := &table{1, routesOf(tables[0])}
	published.Store(first)
	f.Settle(context.Background(), 1, first.routes)

	var mu sync.Mutex
	running := map[int]*table{} // writer -> the table that routed its write
	bucketOf := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for id := range 8 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil && n < 20000; n++ {
				w := f.Enter()
				b := (id + n) % 8
				mu.Lock()
				tb := published.Load() // the router's lookup
				running[id], bucketOf[id] = tb, b
				mu.Unlock()
				w.Route(topo.Bucket(b))
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
				mu.Lock()
				delete(running, id)
				mu.Unlock()
				w.Leave()
			}
		})
	}
	for e := uint64(2); e < 200 && ctx.Err() == nil; e++ {
		var fenced []int
		if e%2 == 0 {
			fenced = []int{int(e) % 8, int(e+3) % 8}
		}
		time.Sleep(300 * time.Microsecond)
		next := &table{e, routesOf(tables[e%4], fenced...)}
		published.Store(next)
		f.Settle(context.Background(), e, next.routes)
		mu.Lock()
		for id, tb := range running {
			if b := bucketOf[id]; tb.epoch < e && !sameRoute(tb.routes[b], next.routes[b]) {
				t.Errorf("after Settle(%d): a write routed by epoch %d still runs in bucket %d, which epoch %d routes differently", e, tb.epoch, b, e)
			}
		}
		mu.Unlock()
	}
	cancel()
	wg.Wait()
	if f.Running() != 0 || f.Timeouts() != 0 {
		t.Fatalf("running %d timeouts %d, want 0 0", f.Running(), f.Timeouts())
	}
}

func TestInflightAfterAGiveUpWaitsForEveryOlderWrite(t *testing.T) {
	f := NewInflight(30*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Settle(context.Background(), 1, routesOf("aaaa"))
	noRoute := f.Enter() // stuck before its lookup
	inOther := f.Enter()
	inOther.Route(0)
	f.Settle(context.Background(), 2, routesOf("aaaa", 3)) // gives up on noRoute
	if f.Timeouts() != 1 {
		t.Fatalf("timeouts %d, want 1", f.Timeouts())
	}
	noRoute.Leave()
	// The write in bucket 0 may since have been routed by any table:
	// epoch 3, which changes only bucket 2, waits for it until the bound.
	f.Settle(context.Background(), 3, routesOf("aaaa", 2, 3))
	if f.Timeouts() != 2 {
		t.Fatalf("timeouts %d, want 2: Settle(3) did not wait for a write of a generation given up on", f.Timeouts())
	}
	inOther.Leave()
	settleReturns(t, f, 4)
}

func TestEnterRouteLeaveDoNotAllocate(t *testing.T) {
	f := NewInflight(time.Minute, nil)
	f.Settle(context.Background(), 1, routesOf("aabb"))
	if n := testing.AllocsPerRun(1000, func() {
		w := f.Enter()
		w.Route(2)
		w.Leave()
	}); n != 0 {
		t.Fatalf("Enter, Route and Leave allocate %v times", n)
	}
}
