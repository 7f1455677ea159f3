package capture

import (
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
)

func TestKeyAndPartition(t *testing.T) {
	tb := []event.Table{{Schema: "lending", Name: "fx", Cols: []string{"a", "b", "c"}, Types: []byte{8, 15, 8}, PK: []int{1, 0}}}
	global := &event.Txn{Bucket: -1, Tables: tb, Rows: []event.Row{{T: 0, Op: event.Delete, Before: []event.Value{{V: int64(1)}, {V: "x"}, {V: nil}}}}}
	if k := Key(global); k != "lending.fx/x/1" {
		t.Errorf("global key = %q", k)
	}
	if k := Key(&event.Txn{Bucket: 17}); k != "17" {
		t.Errorf("bucket key = %q", k)
	}
	for _, k := range []string{"0", "17", "lending.fx/x/1"} {
		if p := Partition(k, 8); p < 0 || p >= 8 || p != Partition(k, 8) {
			t.Errorf("Partition(%q) = %d", k, p)
		}
	}
}

func TestFragments(t *testing.T) {
	tb := []event.Table{{Schema: "lending", Name: "t", Cols: []string{"id", "pad"}, Types: []byte{8, 15}, PK: []int{0}}}
	txn := &event.Txn{GTID: "1-1-9", Bucket: 3, Tables: tb}
	for i := 0; i < 1000; i++ {
		txn.Rows = append(txn.Rows, event.Row{T: 0, Op: event.Insert, After: []event.Value{{V: int64(i)}, {V: strings.Repeat("x", 100)}}})
	}
	msgs, err := messages("topic", "a", 42, binlog.Item{Txn: txn, Pos: "1-1-9"}, Partition(Key(txn), 8), 8, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 2 {
		t.Fatalf("%d messages for a %d-row transaction over the limit", len(msgs), len(txn.Rows))
	}
	rows := 0
	for i, pm := range msgs {
		b, _ := pm.Value.Encode()
		if len(b) > 16<<10 {
			t.Errorf("fragment %d is %d bytes", i, len(b))
		}
		m, err := event.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != 42 || m.Txn.Frag == nil || m.Txn.Frag.Index != i || m.Txn.Frag.Count != len(msgs) || pm.Partition != msgs[0].Partition {
			t.Errorf("fragment %d: seq %d frag %+v partition %d", i, m.Seq, m.Txn.Frag, pm.Partition)
		}
		rows += len(m.Txn.Rows)
	}
	if rows != len(txn.Rows) {
		t.Errorf("fragments carry %d rows, want %d", rows, len(txn.Rows))
	}
	ddl, err := messages("topic", "a", 43, binlog.Item{Txn: &event.Txn{GTID: "1-1-10", Bucket: -1, DDL: &event.DDL{Statement: "ALTER TABLE t ADD c INT"}}}, 0, 8, 16<<10)
	if err != nil || len(ddl) != 8 {
		t.Fatalf("a schema change goes to every partition: %d messages, %v", len(ddl), err)
	}
	for p, pm := range ddl {
		if pm.Partition != int32(p) {
			t.Errorf("ddl copy %d in partition %d", p, pm.Partition)
		}
	}
}
