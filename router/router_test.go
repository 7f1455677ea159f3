package router_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// testEtcd starts a real embedded etcd in a temporary folder.
func testEtcd(t testing.TB) (*lab.Etcd, *clientv3.Client, lab.EtcdConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ec := lab.EtcdConfig{Dir: t.TempDir()}
	var err error
	if ec.ClientPort, err = lab.FreePort(); err != nil {
		t.Fatal(err)
	}
	if ec.PeerPort, err = lab.FreePort(); err != nil {
		t.Fatal(err)
	}
	e, err := lab.StartEtcd(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); e.Close() })
	return e, c, ec
}

func startRouter(t *testing.T, ctx context.Context, s *router.Store, id string) *router.Router {
	t.Helper()
	cfg := router.DefaultConfig()
	cfg.Store, cfg.ID, cfg.Region = s, id, "a"
	cfg.Endpoints = map[string]string{"a": "http://a", "b": "http://b"}
	r, err := router.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(ctx) }()
	t.Cleanup(wg.Wait)
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("router never loaded the table")
	}
	return r
}

func TestStoreUpdateHistoryRollback(t *testing.T) {
	_, c, _ := testEtcd(t)
	ctx := context.Background()
	s := router.NewStore(c, "/t/")
	if _, _, err := s.Load(ctx); !errors.Is(err, router.ErrNoTable) {
		t.Fatalf("empty etcd: got %v, want ErrNoTable", err)
	}
	if ok, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); !ok || err != nil {
		t.Fatalf("init: %v %v", ok, err)
	}
	if ok, _ := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); ok {
		t.Fatal("a second Init overwrote the table")
	}
	rg, _ := topo.ParseBuckets("0-3", 16)
	t2, err := s.Update(ctx, router.Change{Kind: "fence", Actor: "test", Switch: "s1"}, func(t *router.Table) error { return t.Fence(rg, "s1") })
	if err != nil || t2.Epoch != 2 {
		t.Fatalf("fence: epoch %v err %v", t2, err)
	}
	// An overlapping fence is refused and leaves the table as it was.
	rg2, _ := topo.ParseBuckets("3-5", 16)
	_, err = s.Update(ctx, router.Change{Kind: "fence", Actor: "test"}, func(t *router.Table) error { return t.Fence(rg2, "s2") })
	if err == nil || !strings.Contains(err.Error(), "bucket 3: already write-forbidden by switch s1") {
		t.Fatalf("overlapping fence: %v", err)
	}
	// Rollback refuses while fenced.
	if _, err := s.Rollback(ctx, 1, router.Change{Actor: "test"}); err == nil || !strings.Contains(err.Error(), "write-forbidden by switch s1") {
		t.Fatalf("rollback while fenced: %v", err)
	}
	t3, err := s.Update(ctx, router.Change{Kind: "flip", Actor: "test"}, func(t *router.Table) error { return t.Flip("s1", "b1") })
	if err != nil {
		t.Fatal(err)
	}
	if o := t3.Owner(2); o.Cell != "b1" || o.Region != "b" || o.State != router.Serving {
		t.Fatalf("after flip bucket 2 is %+v", o)
	}
	// A change producing an invalid table is refused.
	_, err = s.Update(ctx, router.Change{Actor: "test"}, func(t *router.Table) error { t.Spans[0].Cell = "zz"; return nil })
	if err == nil || !strings.Contains(err.Error(), `cell "zz" does not exist`) {
		t.Fatalf("invalid table: %v", err)
	}
	h, err := s.History(ctx, 0)
	if err != nil || len(h) != 3 || h[0].Epoch != 3 || h[2].Epoch != 1 {
		t.Fatalf("history: %d entries, err %v", len(h), err)
	}
	t4, err := s.Rollback(ctx, 1, router.Change{Actor: "test", Reason: "undo"})
	if err != nil || t4.Epoch != 4 || t4.Owner(2).Cell != "a1" || t4.Change.From != 1 {
		t.Fatalf("rollback: %+v %v", t4, err)
	}
	if _, err := s.Rollback(ctx, 99, router.Change{}); err == nil || !strings.Contains(err.Error(), "epoch 99: not in the routing history") {
		t.Fatalf("rollback to a missing epoch: %v", err)
	}
}

func TestConcurrentFencesOneWins(t *testing.T) {
	_, c, _ := testEtcd(t)
	ctx := context.Background()
	s := router.NewStore(c, "/t/")
	if _, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rg, _ := topo.ParseBuckets("4-9", 16)
			_, errs[i] = s.Update(ctx, router.Change{Kind: "fence"}, func(t *router.Table) error { return t.Fence(rg, "s"+string(rune('a'+i))) })
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !strings.Contains(err.Error(), "already write-forbidden") {
			t.Errorf("loser's error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 8 overlapping fences won, want exactly 1", won)
	}
}

func TestValidateNamesTheProblem(t *testing.T) {
	base := router.Initial(labtest.TwoCells(), time.Now())
	for _, tc := range []struct {
		name string
		edit func(*router.Table)
		want string
	}{
		{"gap", func(t *router.Table) { t.Spans[1].First++ }, "buckets 8-8: assigned to no cell"},
		{"overlap", func(t *router.Table) { t.Spans[1].First-- }, "bucket 7: assigned more than once"},
		{"short", func(t *router.Table) { t.Spans[1].Last-- }, "buckets 15-15: assigned to no cell"},
		{"cell", func(t *router.Table) { t.Spans[0].Cell = "c9" }, `buckets 0-7: cell "c9" does not exist`},
		{"region", func(t *router.Table) { t.Cells[1].Region = "z" }, `cell "b1" lives in region "z"`},
		{"state", func(t *router.Table) { t.Spans[0].State = "busy" }, `state "busy"`},
		{"fence", func(t *router.Table) { t.Spans[0].State = router.WriteForbidden }, "write-forbidden by no switch"},
	} {
		tb := base.Clone()
		tc.edit(tb)
		if err := tb.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestAddPlaces: a config with a new region and cell adds them to the
// table owning nothing; every bucket keeps its owner; a second call adds
// nothing.
func TestAddPlaces(t *testing.T) {
	base := router.Initial(labtest.TwoCells(), time.Now())
	cfg := labtest.TwoCells()
	cfg.Regions = append(cfg.Regions, config.Region{Name: "c"})
	cfg.Cells = append(cfg.Cells, config.Cell{Name: "c1", Region: "c", Standby: "a"})
	tb := base.Clone()
	if got := tb.AddPlaces(cfg); strings.Join(got, ",") != "region c,cell c1" {
		t.Fatalf("added %v, want region c and cell c1", got)
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	for b := range tb.Buckets {
		if tb.Owner(topo.Bucket(b)) != base.Owner(topo.Bucket(b)) {
			t.Fatalf("bucket %d moved: %+v, was %+v", b, tb.Owner(topo.Bucket(b)), base.Owner(topo.Bucket(b)))
		}
	}
	if tb.OwnsBuckets("c") {
		t.Error("the added region owns buckets")
	}
	if got := tb.AddPlaces(cfg); len(got) != 0 {
		t.Errorf("a second call added %v", got)
	}
	if got := base.Clone().AddPlaces(labtest.TwoCells()); len(got) != 0 {
		t.Errorf("the table's own config added %v", got)
	}
}

func TestRouterFollowsAndResyncsAfterEtcdRestart(t *testing.T) {
	e, c, ec := testEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := router.NewStore(c, "/t/")
	if _, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, ctx, s, "r1")
	rt, ok := r.Route("42")
	if !ok || rt.Epoch != 1 || rt.Bucket != topo.BucketOfString("42", 16) {
		t.Fatalf("route: %+v %v", rt, ok)
	}
	b := rt.Bucket
	rg := []topo.Range{{First: b, Last: b}}
	if _, err := s.Update(ctx, router.Change{Kind: "fence"}, func(t *router.Table) error { return t.Fence(rg, "s1") }); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := r.Wait(wctx, 2); err != nil {
		t.Fatal(err)
	}
	if rt, _ := r.Route("42"); !rt.WriteForbidden {
		t.Fatalf("fenced bucket routes as %+v", rt)
	}
	// The registry shows the router at epoch 2.
	waitRouters(t, s, 2, 1)

	// Restart etcd; a change made after it comes back reaches the router.
	e.Close()
	time.Sleep(200 * time.Millisecond)
	e2, err := lab.StartEtcd(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	want := "a1"
	if rt.Cell == "a1" {
		want = "b1"
	}
	if _, err := s.Update(ctx, router.Change{Kind: "flip"}, func(t *router.Table) error { return t.Flip("s1", want) }); err != nil {
		t.Fatal(err)
	}
	wctx2, wcancel2 := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel2()
	if err := r.Wait(wctx2, 3); err != nil {
		t.Fatal(err)
	}
	// The restart may have kept its lease renewals unanswered long enough
	// for the router to refuse writes a moment: it serves again once it
	// is registered again.
	for rt, _ := r.Route("42"); rt.WriteForbidden || rt.Cell != want; rt, _ = r.Route("42") {
		if wctx2.Err() != nil {
			t.Fatalf("after flip: %+v, want cell %s, serving", rt, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitRouters(t, s, 3, 1)
}

func waitRouters(t *testing.T, s *router.Store, epoch uint64, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rs, err := s.Routers(context.Background())
		at := 0
		for _, r := range rs {
			if r.Epoch >= epoch {
				at++
			}
		}
		if err == nil && at >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routers at epoch %d: %d of %d (%v, %v)", epoch, at, n, rs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRouteDoesNotAllocate(t *testing.T) {
	_, c, _ := testEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := router.NewStore(c, "/t/")
	if _, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, ctx, s, "r1")
	if n := testing.AllocsPerRun(1000, func() { r.Route("123456") }); n != 0 {
		t.Fatalf("Route allocates %v times", n)
	}
}

// TestRouterCutOffFromEtcdRefusesWrites: a router that cannot renew its
// lease marks every bucket write-forbidden before its lease can expire
// in etcd (so a switch that no longer sees it registered may go on
// without it), and serves writes again once etcd is back and the table
// current.
func TestRouterCutOffFromEtcdRefusesWrites(t *testing.T) {
	e, c, ec := testEtcd(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := router.NewStore(c, "/t/")
	if _, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	cfg := router.DefaultConfig()
	cfg.Store, cfg.ID, cfg.Region, cfg.TTL = s, "r-stale", "a", 2*time.Second
	r, err := router.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(ctx) }()
	defer wg.Wait()
	defer cancel()
	<-r.Ready()
	waitRouters(t, s, 1, 1)
	if rt := r.Lookup("42"); rt.WriteForbidden || r.Stale() {
		t.Fatalf("fresh router: %+v stale=%v", rt, r.Stale())
	}
	e.Close()
	cut := time.Now()
	deadline := time.Now().Add(15 * time.Second)
	for !r.Stale() {
		if time.Now().After(deadline) {
			t.Fatal("the router never noticed it lost etcd")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// etcd cannot expire the lease sooner than its TTL after the cut (the
	// last renewal it received came before it).
	if took := time.Since(cut); took >= cfg.TTL {
		t.Errorf("the router refused writes %s after losing etcd, not before its %s lease could expire there", took.Round(time.Millisecond), cfg.TTL)
	} else {
		t.Logf("stale %s after the cut (lease %s)", took.Round(time.Millisecond), cfg.TTL)
	}
	if rt := r.Lookup("42"); !rt.WriteForbidden {
		t.Fatalf("a router cut off from etcd answers %+v", rt)
	}
	e2, err := lab.StartEtcd(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	deadline = time.Now().Add(20 * time.Second)
	for r.Stale() {
		if time.Now().After(deadline) {
			t.Fatal("the router never came back after etcd did")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rt := r.Lookup("42"); rt.WriteForbidden {
		t.Fatalf("after etcd is back: %+v", rt)
	}
}
