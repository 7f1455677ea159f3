package capture

import (
	"testing"
	"time"
)

func TestHeartbeatDue(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	every, idle := 250*time.Millisecond, 2*time.Second
	for _, c := range []struct {
		name  string
		m     sentMark
		after time.Duration
		pos   string
		want  bool
	}{
		{"never sent", sentMark{}, 0, "0-1-5", true},
		{"a transaction just sent", sentMark{at: t0}, 100 * time.Millisecond, "0-1-5", false},
		{"a transaction sent a while ago", sentMark{at: t0}, 300 * time.Millisecond, "0-1-5", true},
		{"heartbeat at this position, recent", sentMark{at: t0, pos: "0-1-5"}, time.Second, "0-1-5", false},
		{"heartbeat at this position, idle long enough", sentMark{at: t0, pos: "0-1-5"}, 2 * time.Second, "0-1-5", true},
		{"the position moved since the heartbeat", sentMark{at: t0, pos: "0-1-5"}, 300 * time.Millisecond, "0-1-6", true},
		{"the position moved, but too soon", sentMark{at: t0, pos: "0-1-5"}, 100 * time.Millisecond, "0-1-6", false},
	} {
		if got := c.m.due(t0.Add(c.after), c.pos, every, idle); got != c.want {
			t.Errorf("%s: due = %v, want %v", c.name, got, c.want)
		}
	}
}
