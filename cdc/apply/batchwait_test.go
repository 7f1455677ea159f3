package apply

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestArrivalsWaitOnlyUnderLoad: a partition waits for more only while
// it receives a few messages per wait, not at a trickle, not after a
// quiet second, never with no wait set.
func TestArrivalsWaitOnlyUnderLoad(t *testing.T) {
	const wait = 50 * time.Millisecond
	at := time.Unix(1000, 0)
	feed := func(r *arrivals, every time.Duration, n, per int) {
		for range n {
			r.note(at, per)
			at = at.Add(every)
		}
	}
	var busy arrivals // 100 messages a second, one per batch
	feed(&busy, 10*time.Millisecond, 50, 1)
	if !busy.busy(at, wait) {
		t.Errorf("100 messages/s: want a wait (rate %.0f/s)", busy.msgs/busy.secs)
	}
	if busy.busy(at, 0) {
		t.Error("no wait set: want none")
	}
	if busy.busy(at.Add(2*time.Second), wait) {
		t.Error("after two quiet seconds: want none")
	}
	var trickle arrivals // 12 messages a second, a few short gaps among them
	for i := range 60 {
		gap := 80 * time.Millisecond
		if i%10 == 0 {
			gap = time.Millisecond
		}
		feed(&trickle, gap, 1, 1)
	}
	if trickle.busy(at, wait) {
		t.Errorf("12 messages/s: want no wait (rate %.0f/s)", trickle.msgs/trickle.secs)
	}
	var batches arrivals // a backlog: 256 messages a batch
	feed(&batches, 20*time.Millisecond, 10, 256)
	if !batches.busy(at, wait) {
		t.Error("a backlog: want a wait")
	}
}

// TestCollect: what is waiting is taken at once; with a wait, what
// arrives within it too, up to a run's worth; a closed channel or an
// ended context ends the batch.
func TestCollect(t *testing.T) {
	ctx := context.Background()
	msgs := make(chan *sarama.ConsumerMessage, 2*maxRun)
	msg := func(off int64) *sarama.ConsumerMessage { return &sarama.ConsumerMessage{Offset: off} }
	msgs <- msg(1)
	msgs <- msg(2)
	if got := collect(ctx, msgs, msg(0), 0); len(got) != 3 {
		t.Fatalf("no wait: %d messages, want the 3 at hand", len(got))
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		msgs <- msg(3)
	}()
	if got := collect(ctx, msgs, msg(0), time.Second); len(got) != 2 || got[1].Offset != 3 {
		// The timer runs out with 2: the test waits its second.
		t.Fatalf("with a wait: %d messages, want the first and the one that arrived", len(got))
	}
	for i := range maxRun + 5 {
		msgs <- msg(int64(i))
	}
	if got := collect(ctx, msgs, msg(0), time.Hour); len(got) != maxRun {
		t.Fatalf("a backlog: %d messages, want a run (%d)", len(got), maxRun)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	for len(msgs) > 0 {
		<-msgs
	}
	start := time.Now()
	if got := collect(cctx, msgs, msg(0), time.Hour); len(got) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("ended context: %d messages after %s", len(got), time.Since(start))
	}
	close(msgs)
	if got := collect(ctx, msgs, msg(0), time.Hour); len(got) != 1 {
		t.Fatalf("closed channel: %d messages", len(got))
	}
}
