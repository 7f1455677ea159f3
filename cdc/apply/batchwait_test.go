package apply

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

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
