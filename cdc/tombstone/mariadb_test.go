package tombstone_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/lab/labtest"
)

// TestWriteAndReadOnMariaDB: a later tombstone of a key and region
// replaces the earlier; Read returns the other regions' tombstones with
// their versions and row digests, and Expire removes what is old. (make
// test-unit skips it: it starts a MariaDB.)
func TestWriteAndReadOnMariaDB(t *testing.T) {
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
		pair, except string
		want         string // origin=version, in origin order
	}{
		{"EURUSD", "", "a=12 b=10 c=12"}, // a's 12 replaced its 9
		{"EURUSD", "a", "b=10 c=12"},
		{"GBPUSD", "b", ""}, // only the source's own
		{"USDJPY", "", ""},
	} {
		ds, err := tombstone.Read(ctx, db, tb, key(c.pair), c.except)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, fmt.Sprintf("%s=%v", d.Origin, d.Version.V))
			if !bytes.Equal(d.Row, tombstone.Digest(key(c.pair))) {
				t.Errorf("Read(%s): %s's row digest %x, want the deleted image's %x", c.pair, d.Origin, d.Row, tombstone.Digest(key(c.pair)))
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("Read(%s, except %q) = %q, want %q", c.pair, c.except, strings.Join(got, " "), c.want)
		}
	}
	if n, err := tombstone.Expire(ctx, db, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Errorf("Expire of tombstones older than an hour = %d, %v; want 0", n, err)
	}
	if n, err := tombstone.Expire(ctx, db, time.Now().Add(time.Hour), 100); err != nil || n != 4 {
		t.Errorf("Expire of everything = %d, %v; want 4", n, err)
	}
}
