package apply

import "testing"

func TestUnmet(t *testing.T) {
	through := map[int32]uint64{0: 10, 1: 4, 2: 7}
	get := func(p int32) uint64 { return through[p] }
	cases := []struct {
		name     string
		deps     map[int32]uint64
		self     int32
		wantPart int32
		wantSeq  uint64
		wantOK   bool
	}{
		{"no dependencies", nil, 0, 0, 0, true},
		{"every partition far enough", map[int32]uint64{0: 10, 2: 7}, 1, 0, 0, true},
		{"one behind", map[int32]uint64{0: 9, 1: 5, 2: 7}, 3, 1, 5, false},
		{"the lowest partition behind is named", map[int32]uint64{2: 8, 1: 5}, 0, 1, 5, false},
		{"its own partition is ordered by the log", map[int32]uint64{1: 9}, 1, 0, 0, true},
		{"a partition never seen", map[int32]uint64{5: 1}, 0, 5, 1, false},
	}
	for _, tc := range cases {
		p, seq, ok := unmet(tc.deps, tc.self, get)
		if ok != tc.wantOK || (!ok && (p != tc.wantPart || seq != tc.wantSeq)) {
			t.Errorf("%s: unmet = %d, %d, %v; want %d, %d, %v", tc.name, p, seq, ok, tc.wantPart, tc.wantSeq, tc.wantOK)
		}
	}
}

// TestConsumed: a link is consumed when every partition applied the
// message before its high-water mark (or holds nothing).
func TestConsumed(t *testing.T) {
	ps := func(offHW ...int64) LinkStatus {
		var l LinkStatus
		for i := 0; i < len(offHW); i += 2 {
			l.Partitions = append(l.Partitions, PartitionStatus{Partition: int32(i / 2), Checkpoint: Checkpoint{Offset: offHW[i]}, HighWater: offHW[i+1]})
		}
		return l
	}
	for _, c := range []struct {
		l    LinkStatus
		want bool
	}{
		{ps(), true},
		{ps(-1, 0), true},       // an empty partition
		{ps(9, 10, 4, 5), true}, // each applied its last message
		{ps(9, 10, 3, 5), false},
		{ps(-1, 1), false}, // one message, none applied
	} {
		if got := c.l.Consumed(); got != c.want {
			t.Errorf("%+v: Consumed = %v, want %v", c.l.Partitions, got, c.want)
		}
	}
}
