package capture

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

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
	many := &event.Txn{GTID: "1-1-9", Bucket: 3, Tables: tb, Deps: map[int32]uint64{1: 40}}
	for i := 0; i < 1000; i++ {
		many.Rows = append(many.Rows, event.Row{T: 0, Op: event.Insert, After: []event.Value{{V: int64(i)}, {V: strings.Repeat("x", 100)}}})
	}
	// One row larger than the limit: a document of 3 MB.
	big := &event.Txn{GTID: "1-1-10", Bucket: 3, Tables: tb, Rows: []event.Row{{T: 0, Op: event.Insert, After: []event.Value{{V: int64(1)}, {V: []byte(strings.Repeat("pdf", 1<<20))}}}}}
	for _, txn := range []*event.Txn{many, big} {
		msgs, err := messages("topic", "a", 42, binlog.Item{Txn: txn, Pos: "1-1-9"}, Partition(Key(txn), 8), 8, 16<<10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) < 2 {
			t.Fatalf("%s: %d messages for a transaction over the limit", txn.GTID, len(msgs))
		}
		var frags []*event.Message
		for i, pm := range msgs {
			b, _ := pm.Value.Encode()
			if len(b) > 16<<10 {
				t.Errorf("%s: fragment %d is %d bytes", txn.GTID, i, len(b))
			}
			m, err := event.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Seq != 42 || m.Txn.Frag == nil || m.Txn.Frag.Index != i || m.Txn.Frag.Count != len(msgs) || pm.Partition != msgs[0].Partition || m.Txn.Deps[1] != txn.Deps[1] {
				t.Errorf("%s: fragment %d: seq %d frag %+v partition %d deps %v", txn.GTID, i, m.Seq, m.Txn.Frag, pm.Partition, m.Txn.Deps)
			}
			frags = append(frags, m)
		}
		whole, err := event.Join(frags)
		if err != nil {
			t.Fatalf("%s: join %d fragments: %v", txn.GTID, len(frags), err)
		}
		if len(whole.Txn.Rows) != len(txn.Rows) || !whole.Txn.Rows[len(txn.Rows)-1].After[1].Equal(txn.Rows[len(txn.Rows)-1].After[1]) {
			t.Errorf("%s: joined %d rows, want %d, the last one equal", txn.GTID, len(whole.Txn.Rows), len(txn.Rows))
		}
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

// TestProducerConfigSendsABatchTogether: sarama accepts the config, and
// it holds a send's messages a moment so they leave in one request.
func TestProducerConfigSendsABatchTogether(t *testing.T) {
	sc := sarama.NewConfig()
	ProducerConfig(sc)
	if err := sc.Validate(); err != nil {
		t.Errorf("sarama refuses the producer config: %v", err)
	}
	if sc.Producer.Flush.Frequency <= 0 || sc.Producer.Flush.Frequency > 5*time.Millisecond {
		t.Errorf("flush frequency %s: want a moment (a millisecond), so that a send is one request", sc.Producer.Flush.Frequency)
	}
}
