package main

import (
	"strings"
	"testing"
)

// TestMemLimit: the soft memory limit follows what the process may use:
// three quarters of a cgroup's limit, a quarter of the machine without
// one (cgroup v1 reports "no limit" as a huge number) but not under
// 256 MiB, none when nothing is known.
func TestMemLimit(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		name          string
		cgroup, total int64
		want          int64
	}{
		{"a 2 GiB container on a 24 GiB machine", 2 * gib, 24 * gib, 3 * gib / 2},
		{"no cgroup limit, 24 GiB machine", 0, 24 * gib, 6 * gib},
		{"cgroup v1's no-limit value", 9223372036854771712, 24 * gib, 6 * gib},
		{"a small container", 128 << 20, 24 * gib, 96 << 20},
		{"a small machine", 0, 512 << 20, minMemLimit},
		{"a cgroup limit, machine unknown", 4 * gib, 0, 3 * gib},
		{"nothing known", 0, 0, 0},
	} {
		if got := memLimit(c.cgroup, c.total); got != c.want {
			t.Errorf("%s: %d MiB, want %d MiB", c.name, got>>20, c.want>>20)
		}
	}
}

// TestBadGOGC: a GOGC that is not a percentage or off stops regiond with
// an error naming it (Go alone would quietly use 100).
func TestBadGOGC(t *testing.T) {
	t.Setenv("GOGC", "400%")
	err := gcDefaults()
	if err == nil || !strings.Contains(err.Error(), `GOGC="400%"`) || !strings.Contains(err.Error(), "off") {
		t.Errorf("GOGC=400%%: %v, want an error naming it and what to give", err)
	}
}
