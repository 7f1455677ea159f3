package retry

import (
	"testing"
	"time"
)

// TestRetry checks the waits: jittered around initial, doubling, never
// above max, and back to initial after Reset.
func TestRetry(t *testing.T) {
	const initial, max = 100 * time.Millisecond, time.Second
	within := func(d, center time.Duration) bool {
		lo, hi := time.Duration(float64(center)*(1-Jitter)), min(time.Duration(float64(center)*(1+Jitter))+1, max)
		return d >= lo && d <= hi
	}
	for run := 0; run < 50; run++ {
		r := New(initial, max)
		var waits []time.Duration
		for i, center := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
			d := r.NextBackOff()
			waits = append(waits, d)
			if !within(d, center*time.Millisecond) {
				t.Fatalf("wait %d = %v, want %v ±%v%% and at most %v (waits %v)", i, d, center*time.Millisecond, Jitter*100, max, waits)
			}
		}
		r.Reset()
		if d := r.NextBackOff(); !within(d, initial) {
			t.Fatalf("after Reset: %v, want %v ±%v%%", d, initial, Jitter*100)
		}
	}
	// The waits are jittered, not fixed.
	r1, r2 := New(initial, max), New(initial, max)
	same := 0
	for range 20 {
		if r1.NextBackOff() == r2.NextBackOff() {
			same++
		}
		r1.Reset()
		r2.Reset()
	}
	if same == 20 {
		t.Error("20 pairs of first waits were equal: no jitter")
	}
}
