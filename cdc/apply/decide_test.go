package apply

import (
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/event"
)

// msg builds a message of source "a": a heartbeat (gtid ""), or a
// transaction, a fragment i of n (n > 0), or a DDL.
func msg(seq uint64, pos, gtid string, i, n int, ddl bool) *event.Message {
	m := &event.Message{V: event.Version, Source: "a", Seq: seq, Pos: pos, Kind: event.KindHeartbeat, Sent: time.Unix(int64(seq), 0)}
	if gtid == "" {
		return m
	}
	m.Kind, m.Txn = event.KindTxn, &event.Txn{GTID: gtid}
	if n > 0 { // the i-th of n slices of the whole transaction's encoding
		whole, err := event.Encode(msg(seq, pos, gtid, 0, 0, false))
		if err != nil {
			panic(err)
		}
		size := (len(whole) + n - 1) / n
		m.Txn.Frag, m.Txn.Chunk = &event.Fragment{Index: i, Count: n}, whole[i*size:min((i+1)*size, len(whole))]
	}
	if ddl {
		m.Txn.DDL = &event.DDL{Statement: "ALTER TABLE t ADD c INT"}
	}
	return m
}

func hb(seq uint64, pos string) *event.Message { return msg(seq, pos, "", 0, 0, false) }
func txn(seq uint64, gtid string) *event.Message {
	return msg(seq, "1-1-"+strings.TrimPrefix(gtid, "1-1-"), gtid, 0, 0, false)
}
func frag(seq uint64, gtid string, i, n int) *event.Message { return msg(seq, "p", gtid, i, n, false) }

// TestDecide runs a partition's messages through decide one after the
// other, as the worker does, and checks each step, the checkpoint it
// leads to and the fragments kept. The checkpoint advances only where a
// step writes (save, apply, ddl) or notes (note) it.
func TestDecide(t *testing.T) {
	type want struct {
		step      step
		seq       uint64 // the checkpoint's Seq afterwards
		gtid      string // and GTID
		frags     int    // fragments kept
		txn       bool   // a transaction to apply
		dup, disc bool
		err       string
	}
	start := Checkpoint{Offset: 9, Seq: 5, Pos: "1-1-5", GTID: "1-1-5"}
	for _, tc := range []struct {
		name      string
		msgs      []*event.Message
		quiet     bool
		discarded string // a GTID the gate discarded
		want      []want
	}{
		{"a transaction after the checkpoint applies", []*event.Message{txn(6, "1-1-6")},
			false, "", []want{{step: stepApply, seq: 6, gtid: "1-1-6", txn: true}}},
		{"a re-sent transaction is a duplicate", []*event.Message{txn(5, "1-1-5"), txn(4, "1-1-4")},
			false, "", []want{{step: stepSkip, seq: 5, gtid: "1-1-5", dup: true}, {step: stepSkip, seq: 5, gtid: "1-1-5", dup: true}}},
		{"a heartbeat with a new position (unpublished transactions) is noted while quiet", []*event.Message{hb(5, "1-1-5,2-2-1")},
			true, "", []want{{step: stepNote, seq: 5, gtid: "1-1-5"}}},
		{"a heartbeat with a new position is written after a while", []*event.Message{hb(5, "1-1-5,2-2-1")},
			false, "", []want{{step: stepSave, seq: 5, gtid: "1-1-5"}}},
		{"a heartbeat moving only time is noted while quiet", []*event.Message{hb(5, "1-1-5")},
			true, "", []want{{step: stepNote, seq: 5, gtid: "1-1-5"}}},
		{"a heartbeat moving only time is written after a while", []*event.Message{hb(5, "1-1-5")},
			false, "", []want{{step: stepSave, seq: 5, gtid: "1-1-5"}}},
		{"an older capture's heartbeat is skipped, not counted", []*event.Message{hb(3, "1-1-3")},
			false, "", []want{{step: stepSkip, seq: 5, gtid: "1-1-5"}}},
		{"a discarded transaction moves the checkpoint only", []*event.Message{txn(6, "1-1-6"), txn(7, "1-1-7")},
			false, "1-1-6", []want{{step: stepSave, seq: 6, gtid: "1-1-6", disc: true}, {step: stepApply, seq: 7, gtid: "1-1-7", txn: true}}},
		{"a discarded fragmented transaction is recorded with its last fragment",
			[]*event.Message{frag(6, "1-1-6", 0, 2), frag(6, "1-1-6", 1, 2)},
			false, "1-1-6", []want{{step: stepWait, seq: 5, gtid: "1-1-5"}, {step: stepSave, seq: 6, gtid: "1-1-6", disc: true}}},
		{"fragments collect and apply with the last",
			[]*event.Message{frag(6, "1-1-6", 0, 3), frag(6, "1-1-6", 1, 3), frag(6, "1-1-6", 2, 3)},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {step: stepWait, seq: 5, gtid: "1-1-5", frags: 2}, {step: stepApply, seq: 6, gtid: "1-1-6", txn: true}}},
		{"a fragmented transaction re-sent from its start starts over",
			[]*event.Message{frag(6, "1-1-6", 0, 2), frag(6, "1-1-6", 0, 2), frag(6, "1-1-6", 1, 2)},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {step: stepApply, seq: 6, gtid: "1-1-6", txn: true}}},
		{"a fragment out of order halts",
			[]*event.Message{frag(6, "1-1-6", 0, 3), frag(6, "1-1-6", 2, 3)},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {err: "fragment 2 of transaction 1-1-6 arrived after 1 fragments"}}},
		{"a later fragment without its start halts",
			[]*event.Message{frag(6, "1-1-6", 1, 2)},
			false, "", []want{{err: "fragment 1 of transaction 1-1-6 arrived after 0 fragments"}}},
		{"a transaction that cuts a fragmented one short halts: the rest is missing",
			[]*event.Message{frag(6, "1-1-6", 0, 2), txn(7, "1-1-7")},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {err: "arrived after 1 of the 2 fragments of transaction 1-1-6 (seq 6)"}}},
		{"a re-send after a cut fragmented transaction skips what was applied and starts it over",
			[]*event.Message{frag(6, "1-1-6", 0, 2), txn(5, "1-1-5"), frag(6, "1-1-6", 0, 2), frag(6, "1-1-6", 1, 2)},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {step: stepSkip, seq: 5, gtid: "1-1-5", frags: 1, dup: true},
				{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {step: stepApply, seq: 6, gtid: "1-1-6", txn: true}}},
		{"fragments that do not join into their transaction halt",
			[]*event.Message{frag(6, "1-1-6", 0, 2), func() *event.Message { m := frag(6, "1-1-6", 1, 2); m.Txn.Chunk = []byte("}"); return m }()},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {err: "joined from 2 fragments"}}},
		{"fragments of another transaction than the one collecting halt",
			[]*event.Message{frag(6, "1-1-6", 0, 3), frag(7, "1-1-7", 1, 2)},
			false, "", []want{{step: stepWait, seq: 5, gtid: "1-1-5", frags: 1}, {err: "missing from the Kafka log"}}},
		{"a DDL applies through the barrier", []*event.Message{msg(6, "1-1-6", "1-1-6", 0, 0, true)},
			false, "", []want{{step: stepDDL, seq: 6, gtid: "1-1-6", txn: true}}},
		{"a message of another region halts", []*event.Message{func() *event.Message { m := txn(6, "1-1-6"); m.Source = "b"; return m }()},
			false, "", []want{{err: `message from region "b" in the topic of "a"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := start
			var frags []*event.Message
			in := input{source: "a", quiet: tc.quiet, discarded: func(g string) bool { return g == tc.discarded }}
			for i, m := range tc.msgs {
				in.offset = cp.Offset + 1 + int64(i)
				d, kept, err := decide(cp, frags, m, in)
				w := tc.want[i]
				if w.err != "" {
					if err == nil || !strings.Contains(err.Error(), w.err) {
						t.Fatalf("message %d: got %v, want an error with %q", i, err, w.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if d.step != w.step || d.next.Seq != w.seq || d.next.GTID != w.gtid || len(kept) != w.frags || (d.txn != nil) != w.txn || d.duplicate != w.dup || d.discarded != w.disc {
					t.Fatalf("message %d: got %s seq %d gtid %s, %d fragments kept, txn %v, dup %v, discarded %v; want %+v",
						i, d.step, d.next.Seq, d.next.GTID, len(kept), d.txn != nil, d.duplicate, d.discarded, w)
				}
				if moved := d.step != stepSkip && d.step != stepWait; moved != (d.next.Offset == in.offset) {
					t.Fatalf("message %d: step %s left the checkpoint at offset %d (message at %d)", i, d.step, d.next.Offset, in.offset)
				}
				cp, frags = d.next, kept
			}
		})
	}
}

// TestHeartbeatMovingTheWatermark: a heartbeat that moves the watermark
// (the source published to other partitions) is noted in memory while the
// checkpoint row was written within heartbeatMoveSave, else written.
func TestHeartbeatMovingTheWatermark(t *testing.T) {
	cp := Checkpoint{Offset: 9, Seq: 5, Pos: "1-1-5", GTID: "1-1-5"}
	for _, tc := range []struct {
		recent bool
		want   step
	}{{true, stepNote}, {false, stepSave}} {
		d, _, err := decide(cp, nil, hb(8, "1-1-8"), input{source: "a", offset: 10, recent: tc.recent})
		if err != nil || d.step != tc.want || d.next.Seq != 8 || d.next.Pos != "1-1-8" || d.next.Offset != 10 {
			t.Errorf("recent %v: %+v %v, want step %v moving the watermark to seq 8", tc.recent, d, err, tc.want)
		}
	}
}
