package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// settleReturns runs f.Settle(epoch) and fails the test if it has not
// returned within 10s.
func settleReturns(t *testing.T, f *Inflight, epoch uint64) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.Settle(context.Background(), epoch); close(done) }()
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
	go func() { f.Settle(context.Background(), 2); close(done) }()
	// Settle(2) is waiting for old; its swap is serialised with this
	// second Settle, which then waits for the same write.
	settled3 := make(chan struct{})
	go func() { f.Settle(context.Background(), 3); close(settled3) }()
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
	f2.Settle(ctx, 1) // returns: ctx ended
}
