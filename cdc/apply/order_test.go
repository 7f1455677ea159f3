package apply

import (
	"testing"

	"github.com/regionplatform/region/cdc/event"
)

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

// TestCut: a partition's run ends at the first of its transactions
// another partition's held messages wait for, and only there.
func TestCut(t *testing.T) {
	a := &Applier{needs: map[int32]map[int32][]uint64{}}
	txn := func(seq uint64, deps map[int32]uint64) *event.Message {
		return &event.Message{Kind: event.KindTxn, Seq: seq, Txn: &event.Txn{Deps: deps}}
	}
	// Partition 1 holds transactions that wait for partition 0's seqs 12
	// and 7 and partition 2's 30; its own partition is not a need.
	a.need(1, []*event.Message{nil, txn(20, map[int32]uint64{0: 12}), {Kind: event.KindHeartbeat}, txn(21, map[int32]uint64{0: 7, 2: 30, 1: 19})})
	a.need(2, []*event.Message{txn(40, map[int32]uint64{0: 15})})
	for _, c := range []struct {
		p         int32
		from, cut uint64
	}{
		{0, 1, 7}, {0, 7, 7}, {0, 8, 12}, {0, 13, 15}, {0, 16, 0},
		{2, 1, 30}, {2, 31, 0},
		{1, 1, 0}, // no one waits for partition 1
	} {
		if got := a.cut(c.p, c.from); got != c.cut {
			t.Errorf("cut(%d, from %d) = %d, want %d", c.p, c.from, got, c.cut)
		}
	}
	a.need(1, nil) // its worker let go of them
	if got := a.cut(0, 1); got != 15 {
		t.Errorf("after partition 1 let go: cut(0, 1) = %d, want 15", got)
	}

	// Partition 0's messages: seqs 5 to 9, all ready. The run from 5
	// ends after 7 when 7 is needed, else at the end.
	var msgs []*event.Message
	for s := uint64(5); s <= 9; s++ {
		msgs = append(msgs, txn(s, nil))
	}
	ready := func(*event.Message) bool { return true }
	for _, c := range []struct {
		from  int
		cut   uint64
		end   int
		atCut bool
	}{{0, 7, 3, true}, {0, 0, 5, false}, {0, 5, 1, true}, {3, 9, 5, false}, {3, 8, 4, true}, {0, 100, 5, false}} {
		if got, atCut := runEnd(msgs, c.from, ready, c.cut); got != c.end || atCut != c.atCut {
			t.Errorf("runEnd(from %d, cut %d) = %d, %v; want %d, %v", c.from, c.cut, got, atCut, c.end, c.atCut)
		}
	}
	// A transaction that is not ready ends the run before it, a cut or not.
	notSeven := func(m *event.Message) bool { return m.Seq != 7 }
	if got, _ := runEnd(msgs, 0, notSeven, 8); got != 2 {
		t.Errorf("runEnd with 7 not ready = %d, want 2", got)
	}
}
