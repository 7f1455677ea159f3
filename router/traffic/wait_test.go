package traffic

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
)

// caughtUp is replication that has applied everything: the switch never
// waits for it.
type caughtUp struct{}

func (caughtUp) Position(context.Context, string) (string, error) { return "1-1-1", nil }
func (caughtUp) Link(_ context.Context, from, to string) (Link, error) {
	return Link{From: from, To: to, State: "running", AppliedGTID: "1-1-1"}, nil
}
func (caughtUp) Covers(_, a, b string) (bool, error) { return a == b, nil }

// waiting is replication whose target waits for the position (Waiter):
// the first wait ends not covered, the next one covered.
type waiting struct {
	caughtUp
	mu    sync.Mutex
	calls int
}

func (w *waiting) WaitApplied(ctx context.Context, from, to, pos string, wait time.Duration) (Link, bool, error) {
	w.mu.Lock()
	w.calls++
	n := w.calls
	w.mu.Unlock()
	if n == 1 {
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, 50*time.Millisecond)):
		}
		return Link{From: from, To: to, State: "running", AppliedGTID: "1-1-0"}, false, nil
	}
	return Link{From: from, To: to, State: "running", AppliedGTID: pos}, true, nil
}

// TestSwitchWaitsForRoutersOnTheRegistry: with a poll interval far longer
// than the test, a switch ends only if its waits for the routers wake up
// when a router reports the new epoch in the registry (WatchRouters), and
// its wait for replication waits on the link's target (Waiter) and does
// not sleep a poll between two waits.
func TestSwitchWaitsForRoutersOnTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := labtest.Etcd(t)
	store := router.NewStore(c, "/w/")
	if _, err := store.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		t.Fatal(err)
	}
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region, rc.Kind = store, "gateway-test", "a", "gateway"
	// The router reports each epoch a moment after it serves it (a
	// gateway finishing older writes): the switch's first look at the
	// registry finds it behind.
	rc.Settle = func(ctx context.Context, _ uint64, _ []router.Route) {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	r, err := router.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = r.Run(ctx) })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rs, err := store.Routers(ctx); err == nil && len(rs) == 1 && rs[0].Epoch > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the router did not register")
		}
	}

	repl := &waiting{}
	cfg := DefaultConfig()
	cfg.Store, cfg.Replication, cfg.Poll, cfg.AckTimeout = store, repl, time.Hour, time.Minute
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Record, 1)
	start := time.Now()
	go func() {
		rec, err := s.Execute(ctx, Request{Buckets: "0-3", To: "b1", Reason: "move", Actor: "alice"})
		if err != nil {
			t.Error(err)
		}
		done <- rec
	}()
	select {
	case rec := <-done:
		if rec == nil || rec.State != Done {
			t.Fatalf("switch %+v, want done", rec)
		}
		t.Logf("switch done in %s, write-forbidden %d ms", time.Since(start).Round(time.Millisecond), rec.WriteForbiddenMS)
	case <-time.After(30 * time.Second):
		t.Fatal("the switch did not end in 30s: a wait looks only every poll (1h), not when the registry changes or the target has waited")
	}
	if repl.calls != 2 {
		t.Errorf("%d waits on the link's target, want 2 (one not covered, one covered)", repl.calls)
	}
}

// held is a Waiter whose link is held (a forced failover's hold) until
// release, then caught up: the target answers at once while it is held.
type held struct {
	caughtUp
	release time.Time
	mu      sync.Mutex
	calls   int
}

func (h *held) WaitApplied(_ context.Context, from, to, pos string, _ time.Duration) (Link, bool, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	if time.Now().Before(h.release) {
		return Link{From: from, To: to, State: "held", AppliedGTID: "1-1-0"}, false, nil
	}
	return Link{From: from, To: to, State: "running", AppliedGTID: pos}, true, nil
}

// TestWaitOnALinkNotRunningPolls: a link that is not running makes the
// target answer at once; the switch then asks again every poll, not in a
// tight loop.
func TestWaitOnALinkNotRunningPolls(t *testing.T) {
	store := router.NewStore(labtest.Etcd(t), "/h/")
	h := &held{}
	s, err := New(Config{Store: store, Replication: h, AckTimeout: time.Second,
		MaxLag: time.Second, CatchUpTimeout: 10 * time.Second, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.release = time.Now().Add(500 * time.Millisecond)
	if err := s.waitLink(context.Background(), &run{rec: &Record{ID: "sw-test"}}, "a", "b", "1-1-5", true); err != nil {
		t.Fatal(err)
	}
	// 500 ms at one look every 50 ms is about 10; a loop that does not
	// wait makes thousands.
	if h.calls < 2 || h.calls > 100 {
		t.Fatalf("%d waits on a held link over 500 ms, want one every poll (about 10)", h.calls)
	}
}
