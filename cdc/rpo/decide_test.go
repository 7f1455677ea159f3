package rpo

import (
	"strconv"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/event"
)

// bucketIn returns a bucket whose key maps to partition p of n.
func bucketIn(t *testing.T, p, n int32) int32 {
	t.Helper()
	for b := int32(0); b < 1024; b++ {
		if capture.Partition(strconv.Itoa(int(b)), n) == p {
			return b
		}
	}
	t.Fatalf("no bucket maps to partition %d", p)
	return 0
}

// TestAppliedDecision: a transaction is applied iff its own partition's
// position includes it, whatever the watermark; a schema change iff every
// partition's does.
func TestAppliedDecision(t *testing.T) {
	// Partition 0 is the watermark (1-1-100); 1 is at 110, 2 and 3 at 120.
	link := apply.LinkStatus{AppliedGTID: "1-1-100", Partitions: []apply.PartitionStatus{
		{Partition: 0, Checkpoint: apply.Checkpoint{Pos: "1-1-100"}}, {Partition: 1, Checkpoint: apply.Checkpoint{Pos: "1-1-110"}},
		{Partition: 2, Checkpoint: apply.Checkpoint{Pos: "1-1-120"}}, {Partition: 3, Checkpoint: apply.Checkpoint{Pos: "1-1-120,2-2-7"}},
	}}
	v, err := newView("mariadb", link, 4)
	if err != nil {
		t.Fatal(err)
	}
	row := func(gtid string, part int32) *event.Txn {
		return &event.Txn{GTID: gtid, Bucket: bucketIn(t, part, 4), Rows: []event.Row{{}}}
	}
	global := &event.Txn{GTID: "1-1-105", Bucket: -1,
		Tables: []event.Table{{Schema: "lending", Name: "rates", PK: []int{0}}},
		Rows:   []event.Row{{After: []event.Value{event.NewValue(int64(1))}}}}
	globalPart := capture.Partition(capture.Key(global), 4)
	for _, c := range []struct {
		name string
		txn  *event.Txn
		part int32
		want bool
	}{
		{"at the watermark", row("1-1-100", 0), 0, true},
		{"after the watermark, its partition behind", row("1-1-101", 0), 0, false},
		{"after the watermark, its partition ahead", row("1-1-105", 1), 1, true},
		{"at its partition's position", row("1-1-110", 1), 1, true},
		{"just after its partition's position", row("1-1-111", 1), 1, false},
		{"ahead on another partition only", row("1-1-115", 1), 1, false},
		{"far ahead", row("1-1-115", 2), 2, true},
		{"beyond every partition", row("1-1-121", 3), 3, false},
		{"global table, keyed by table and key", global, globalPart, link.Partitions[globalPart].Pos != "1-1-100"},
		{"schema change every partition passed", &event.Txn{GTID: "1-1-99", Bucket: -1, DDL: &event.DDL{Statement: "ALTER TABLE t ADD c INT"}}, -1, true},
		{"schema change one partition did not pass", &event.Txn{GTID: "1-1-101", Bucket: -1, DDL: &event.DDL{Statement: "ALTER TABLE t ADD c INT"}}, -1, false},
	} {
		part, ok, err := v.applied(c.txn)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if part != c.part || ok != c.want {
			t.Errorf("%s: partition %d applied %v, want partition %d applied %v", c.name, part, ok, c.part, c.want)
		}
	}
}

// TestViewRejectsIncompleteStatus: every partition must be present and
// include the watermark, or nothing can be decided exactly.
func TestViewRejectsIncompleteStatus(t *testing.T) {
	for _, c := range []struct {
		name string
		link apply.LinkStatus
		want string
	}{
		{"missing partition", apply.LinkStatus{AppliedGTID: "1-1-5", Partitions: []apply.PartitionStatus{{Partition: 0, Checkpoint: apply.Checkpoint{Pos: "1-1-5"}}}}, "no partition 1"},
		{"too many partitions", apply.LinkStatus{AppliedGTID: "1-1-5", Partitions: []apply.PartitionStatus{{Partition: 2, Checkpoint: apply.Checkpoint{Pos: "1-1-5"}}}}, "check Config.Partitions"},
		{"bad watermark", apply.LinkStatus{AppliedGTID: "x"}, "watermark"},
	} {
		_, err := newView("mariadb", c.link, 2)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestViewOfANeverConsumedLink: a survivor that never consumed the topic
// has applied the watermark in every partition, and nothing after it.
func TestViewOfANeverConsumedLink(t *testing.T) {
	v, err := newView("mariadb", apply.LinkStatus{AppliedGTID: "1-1-5"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gtid string
		want bool
	}{{"1-1-5", true}, {"1-1-6", false}} {
		_, ok, err := v.applied(&event.Txn{GTID: c.gtid, Bucket: 3})
		if err != nil || ok != c.want {
			t.Errorf("%s: applied %v (%v), want %v", c.gtid, ok, err, c.want)
		}
	}
}

// TestParseLost: a LostGTIDs value names exactly its transactions.
func TestParseLost(t *testing.T) {
	ls, err := ParseLost("mariadb", "1-1-133-136,1-1-145,2-7-3-4")
	if err != nil {
		t.Fatal(err)
	}
	for gtid, want := range map[string]bool{"1-1-132": false, "1-1-133": true, "1-1-136": true, "1-1-137": false, "1-1-145": true,
		"1-1-146": false, "2-7-4": true, "2-8-4": false, "3-1-133": false} {
		if ls.Has(gtid) != want {
			t.Errorf("%s: Has %v, want %v", gtid, !want, want)
		}
	}
	my, err := ParseLost("mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-6:8")
	if err != nil || !my.Has("3e11fa47-71ca-11e1-9e33-c80aa9429562:6") || my.Has("3e11fa47-71ca-11e1-9e33-c80aa9429562:7") {
		t.Errorf("mysql set: %v", err)
	}
	for _, bad := range []string{"1-1", "1-1-x", "1-1-9-3"} {
		if _, err := ParseLost("mariadb", bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestGTIDList: consecutive GTIDs merge into ranges, gaps do not.
func TestGTIDList(t *testing.T) {
	for _, c := range []struct {
		flavor string
		in     []string
		want   string
	}{
		{"mariadb", nil, ""},
		{"mariadb", []string{"1-1-1501"}, "1-1-1501"},
		{"mariadb", []string{"1-1-1501", "1-1-1502", "1-1-1503"}, "1-1-1501-1503"},
		{"mariadb", []string{"1-1-5", "1-1-6", "1-1-8", "2-2-3", "1-1-9"}, "1-1-5-6,1-1-8-9,2-2-3"},
		{"mysql", []string{"3e11fa47-71ca-11e1-9e33-c80aa9429562:5", "3e11fa47-71ca-11e1-9e33-c80aa9429562:6", "3e11fa47-71ca-11e1-9e33-c80aa9429562:8"},
			"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-6:8"},
	} {
		l := newGTIDList(c.flavor)
		for _, g := range c.in {
			if err := l.add(g); err != nil {
				t.Fatal(err)
			}
		}
		if got := l.String(); got != c.want {
			t.Errorf("%s %v: got %q, want %q", c.flavor, c.in, got, c.want)
		}
	}
}

// TestValidate: what Compute needs before it connects.
func TestValidate(t *testing.T) {
	ok := Config{Source: binlog.Config{Flavor: "mariadb", Filter: &binlog.Filter{}, Buckets: 1024, ServerID: 4242}, Partitions: 8}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"flavor":     func(c *Config) { c.Source.Flavor = "postgres" },
		"server id":  func(c *Config) { c.Source.ServerID = 0 },
		"filter":     func(c *Config) { c.Source.Filter = nil },
		"partitions": func(c *Config) { c.Partitions = 0 },
		"max listed": func(c *Config) { c.MaxListed = -1 },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
