package tombstone_test

import (
	"context"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/lab/labtest"
)

// TestWriteAndHighestOnMariaDB: a later tombstone of a key and region
// replaces the earlier; Highest reads the highest version of the other
// regions (by value, not as text), and Expire removes what is old. (make
// test-unit skips it: it starts a MariaDB.)
func TestWriteAndHighestOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	for _, q := range []string{"CREATE DATABASE _region", tombstone.Schema} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tb := &event.Table{Schema: "lending", Name: "rates", Cols: []string{"pair", "ver"}, PK: []int{0}}
	key := func(pair string) []event.Value { return []event.Value{event.NewValue(pair), event.NewValue(int64(0))} }
	ts := []tombstone.Tombstone{
		{Table: tb, Key: key("EURUSD"), Origin: "a", Version: event.NewValue(int64(9)), GTID: "0-1-1"},
		{Table: tb, Key: key("EURUSD"), Origin: "a", Version: event.NewValue(int64(12)), GTID: "0-1-2"}, // replaces 9
		{Table: tb, Key: key("EURUSD"), Origin: "b", Version: event.NewValue(int64(10)), GTID: "0-2-1"},
		{Table: tb, Key: key("EURUSD"), Origin: "c", Version: event.NewValue(int64(12)), GTID: "0-3-1"},
		{Table: tb, Key: key("GBPUSD"), Origin: "b", Version: event.NewValue(int64(100)), GTID: "0-2-2"},
	}
	if err := tombstone.Write(ctx, db, ts); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pair, except, origin string
		version              int64
		ok                   bool
	}{
		{"EURUSD", "", "a", 12, true},  // a and c tie at 12: the first by name
		{"EURUSD", "a", "c", 12, true}, // 12 > 10 as numbers ("12" < "9" as text)
		{"EURUSD", "c", "a", 12, true},
		{"GBPUSD", "b", "", 0, false}, // only the source's own
		{"USDJPY", "", "", 0, false},
	} {
		origin, v, ok, err := tombstone.Highest(ctx, db, tb, key(c.pair), c.except)
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.ok || origin != c.origin || (ok && v.V != c.version) {
			t.Errorf("Highest(%s, except %q) = %q %v %v, want %q %d %v", c.pair, c.except, origin, v.V, ok, c.origin, c.version, c.ok)
		}
	}
	if n, err := tombstone.Expire(ctx, db, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Errorf("Expire of tombstones older than an hour = %d, %v; want 0", n, err)
	}
	if n, err := tombstone.Expire(ctx, db, time.Now().Add(time.Hour), 100); err != nil || n != 4 {
		t.Errorf("Expire of everything = %d, %v; want 4", n, err)
	}
}
