package tombstone

import (
	"testing"

	"github.com/regionplatform/region/cdc/event"
)

func TestCompare(t *testing.T) {
	v := event.NewValue
	for _, c := range []struct {
		a, b event.Value
		want int
	}{
		{v(int64(9)), v(int64(10)), -1},
		{v(uint64(1 << 63)), v(int64(1)), 1},
		{v(int64(3)), v(3.0), 0},
		{v("9.50"), v("10.25"), -1}, // DECIMAL as the binlog renders it
		{v("-1.5"), v("-1.25"), -1},
		{v("2026-12-03 05:00:00.000001"), v("2026-12-03 05:00:00.000000"), 1},
		{v("2026-12-03 05:00:00"), v("2026-12-03 05:00:00"), 0},
		{v(nil), v(int64(0)), -1},
		{v(nil), v(nil), 0},
		{v([]byte("b")), v("a"), 1},
	} {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", c.a.V, c.b.V, got, c.want)
		}
		if got := Compare(c.b, c.a); got != -c.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", c.b.V, c.a.V, got, -c.want)
		}
	}
}

// TestCollect: deletes and key changes of versioned tables leave a
// tombstone with the deleted row's version; inserts, updates in place,
// unversioned tables and tables without a primary key do not.
func TestCollect(t *testing.T) {
	v := event.NewValues
	txn := &event.Txn{
		GTID: "0-1-7",
		Tables: []event.Table{
			{Schema: "lending", Name: "rates", Cols: []string{"pair", "rate", "ver"}, PK: []int{0}},
			{Schema: "lending", Name: "loans", Cols: []string{"id", "ver"}, PK: []int{0}},
			{Schema: "lending", Name: "nopk", Cols: []string{"pair", "ver"}},
		},
		Rows: []event.Row{
			{T: 0, Op: event.Insert, After: v("EURUSD", "1.1", 1)},
			{T: 0, Op: event.Update, Before: v("EURUSD", "1.1", 1), After: v("EURUSD", "1.2", 2)},
			{T: 0, Op: event.Delete, Before: v("EURUSD", "1.2", 2)},
			{T: 0, Op: event.Update, Before: v("GBPUSD", "1.3", 4), After: v("GBPEUR", "1.3", 5)},
			{T: 1, Op: event.Delete, Before: v(7, 3)},
			{T: 2, Op: event.Delete, Before: v("X", 1)},
		},
	}
	version := func(db, table string) string {
		if table == "loans" {
			return ""
		}
		return "ver"
	}
	got := Collect(txn, "a", version)
	if len(got) != 2 {
		t.Fatalf("Collect = %d tombstones, want 2: %+v", len(got), got)
	}
	for i, want := range []struct {
		key string
		ver int64
	}{{"pair=EURUSD", 2}, {"pair=GBPUSD", 4}} {
		g := got[i]
		if g.Table.KeyText(g.Key) != want.key || g.Version.V != want.ver || g.Origin != "a" || g.GTID != "0-1-7" {
			t.Errorf("tombstone %d = %s version %v by %s (%s), want %s version %d by a", i, g.Table.KeyText(g.Key), g.Version.V, g.Origin, g.GTID, want.key, want.ver)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":               "plain",
		"naïve 😀":             "naïve 😀",
		"\x00\xff":            "\x00\\xFF",
		"{\"b\":\"\xaa, y\"}": `{"b":"\xAA, y"}`,
		"id=\xc3\xa9\xe9":     "id=é\\xE9",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Clip("k=\xff\xfe", 5); got != `k=\x…` {
		t.Errorf("Clip of bytes: %q", got)
	}
}
