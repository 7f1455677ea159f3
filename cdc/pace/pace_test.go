package pace_test

import (
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
