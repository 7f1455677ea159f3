package pace_test

import (
	"context"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/pace"
)

// TestArrivalsWaitOnlyUnderLoad: a stream waits for more only while
// it receives a few messages per wait, not at a trickle, not after a
// quiet second, never with no wait set.
func TestArrivalsWaitOnlyUnderLoad(t *testing.T) {
	const wait = 50 * time.Millisecond
	at := time.Unix(1000, 0)
	feed := func(r *pace.Arrivals, every time.Duration, n, per int) {
		for range n {
			r.Note(at, per)
			at = at.Add(every)
		}
	}
	var busy pace.Arrivals // 100 messages a second, one per batch
	feed(&busy, 10*time.Millisecond, 50, 1)
	if !busy.Busy(at, wait, 2) {
		t.Errorf("100 messages/s: want a wait (rate %.0f/s)", busy.Rate())
	}
	if busy.Busy(at, wait, 8) {
		t.Errorf("100 messages/s, 8 more wanted within 50ms: want no wait (5 expected)")
	}
	if busy.Busy(at, 0, 2) {
		t.Error("no wait set: want none")
	}
	if busy.Busy(at.Add(2*time.Second), wait, 2) {
		t.Error("after two quiet seconds: want none")
	}
	var trickle pace.Arrivals // 12 messages a second, a few short gaps among them
	for i := range 60 {
		gap := 80 * time.Millisecond
		if i%10 == 0 {
			gap = time.Millisecond
		}
		feed(&trickle, gap, 1, 1)
	}
	if trickle.Busy(at, wait, 2) {
		t.Errorf("12 messages/s: want no wait (rate %.0f/s)", trickle.Rate())
	}
	var batches pace.Arrivals // a backlog: 256 messages a batch
	feed(&batches, 20*time.Millisecond, 10, 256)
	if !batches.Busy(at, wait, 2) {
		t.Error("a backlog: want a wait")
	}
}

// TestCollect: what is waiting is taken at once; with a wait, what
// arrives within it too, up to max; a closed channel or an ended context
// ends the batch.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	const max = 10
	ch := make(chan int, 2*max)
	ch <- 1
	ch <- 2
	if got := pace.Collect(ctx, ch, 0, max, 0); len(got) != 3 {
		t.Fatalf("no wait: %v, want the 3 at hand", got)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		ch <- 3
	}()
	if got := pace.Collect(ctx, ch, 0, max, time.Second); len(got) != 2 || got[1] != 3 {
		// The timer runs out with 2: the test waits its second.
		t.Fatalf("with a wait: %v, want the first and the one that arrived", got)
	}
	for i := range max + 5 {
		ch <- i
	}
	if got := pace.Collect(ctx, ch, 0, max, time.Hour); len(got) != max {
		t.Fatalf("a backlog: %d values, want max (%d)", len(got), max)
	}
	for len(ch) > 0 {
		<-ch
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if got := pace.Collect(cctx, ch, 0, max, time.Hour); len(got) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("ended context: %v after %s", got, time.Since(start))
	}
	close(ch)
	if got := pace.Collect(ctx, ch, 0, max, time.Hour); len(got) != 1 {
		t.Fatalf("closed channel: %v", got)
	}
}
