package apply

import "testing"

// TestUnreachable: a link is unreachable only when every partition that
// is not halted failed to fetch and has applied everything it received;
// a partition still applying what it got keeps it running, as does one
// that fetches.
func TestUnreachable(t *testing.T) {
	down := func(p int32) *PartitionStatus {
		return &PartitionStatus{Partition: p, State: "running", FetchError: "connection refused", idle: true}
	}
	busy := down(1)
	busy.idle = false
	fetching := &PartitionStatus{Partition: 2, State: "running", idle: true}
	halted := &PartitionStatus{Partition: 3, State: "halted"}
	for _, tt := range []struct {
		name  string
		parts map[int32]*PartitionStatus
		want  string
	}{
		{"every partition down and idle", map[int32]*PartitionStatus{0: down(0), 1: down(1)}, "unreachable"},
		{"a halted one does not count", map[int32]*PartitionStatus{0: down(0), 3: halted}, "unreachable"},
		{"one still applying what it received", map[int32]*PartitionStatus{0: down(0), 1: busy}, "running"},
		{"one still fetching", map[int32]*PartitionStatus{0: down(0), 2: fetching}, "running"},
		{"only halted partitions", map[int32]*PartitionStatus{3: halted}, "running"},
		{"no partition yet", map[int32]*PartitionStatus{}, "running"},
	} {
		if got, why := unreachable(tt.parts); got != tt.want || (got == "unreachable") != (why != "") {
			t.Errorf("%s: %q (%q), want %q", tt.name, got, why, tt.want)
		}
	}
}
