package claim_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/lab/labtest"
)

var users = event.Table{Schema: "lending", Name: "users", Cols: []string{"id", "name", "version"}, PK: []int{0}}

func row(id int64, name string, version int64) []event.Value {
	return []event.Value{event.NewValue(id), event.NewValue(name), event.NewValue(version)}
}

func homeCell(db, table string) string {
	if db+"."+table == "lending.users" {
		return "version"
	}
	return ""
}

// TestCollect claims what each kind of row change leaves: the written
// key at its new version, a deleted key at the deleted version, both
// keys of an update that moves the row; nothing of other tables or of
// tables without a primary key.
func TestCollect(t *testing.T) {
	other := event.Table{Schema: "lending", Name: "ledger", Cols: []string{"id"}, PK: []int{0}}
	nopk := users
	nopk.Name, nopk.PK = "users", nil
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	tx := &event.Txn{GTID: "0-1-9", Epoch: 7, Cell: "a1", Tables: []event.Table{users, other}, Rows: []event.Row{
		{T: 0, Op: event.Insert, After: row(1, "ann", 1)},
		{T: 0, Op: event.Update, Before: row(2, "bob", 3), After: row(2, "bob2", 4)},
		{T: 0, Op: event.Delete, Before: row(3, "carl", 5)},
		{T: 0, Op: event.Update, Before: row(4, "dave", 1), After: row(5, "dave", 2)},
		{T: 1, Op: event.Insert, After: []event.Value{event.NewValue(int64(1))}},
	}}
	var got []string
	for _, c := range claim.Collect(tx, "a", at, homeCell) {
		if c.Epoch != 7 || c.Cell != "a1" || !c.At.Equal(at) || c.GTID != "0-1-9" || c.Origin != "a" {
			t.Errorf("claim %v: stamp %+v, want the transaction's", c.Key, c.Stamp)
		}
		got = append(got, fmt.Sprintf("%s@%v", c.Table.KeyText(c.Key), c.Version.V))
	}
	if want := "[id=1@1 id=2@4 id=3@5 id=4@1 id=5@2]"; fmt.Sprint(got) != want {
		t.Errorf("Collect = %v, want %s", got, want)
	}
	tx.Tables[0] = nopk
	if cs := claim.Collect(tx, "a", at, homeCell); len(cs) != 0 {
		t.Errorf("a table without a primary key: %d claims, want none", len(cs))
	}
}

// TestWriteAndReadOnMariaDB: a later claim of a key and region replaces
// the earlier (within one statement too); Read returns one region's
// claim with its stamp, none for a region that has not changed the key;
// Expire removes what is old. (make test-unit skips it: it starts a
// MariaDB.)
func TestWriteAndReadOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	for _, q := range []string{"CREATE DATABASE _region", claim.Schema} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 4, 9, 0, 1, 0, time.UTC)
	tb := &users
	c := func(origin string, version int64, epoch uint64, cell string, when time.Time) claim.Claim {
		return claim.Claim{Table: tb, Key: row(1, "x", version), Origin: origin, Stamp: claim.Stamp{Version: event.NewValue(version), Epoch: epoch, Cell: cell, At: when, GTID: fmt.Sprintf("%s-%d", origin, version)}}
	}
	if err := claim.Write(ctx, db, []claim.Claim{c("a", 2, 3, "a1", at), c("a", 3, 4, "a1", at), c("b", 3, 0, "", at.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		origin string
		ok     bool
		want   string
	}{
		{"a", true, "3 4 a1 09:00:01 a-3"}, // a's version 3 replaced its 2
		{"b", true, "3 0  09:00:02 b-3"},
		{"c", false, ""},
	} {
		s, ok, err := claim.Read(ctx, db, tb, row(1, "", 0), w.origin)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ok {
			got = fmt.Sprintf("%v %d %s %s %s", s.Version.V, s.Epoch, s.Cell, s.At.Format("15:04:05"), s.GTID)
		}
		if ok != w.ok || got != w.want {
			t.Errorf("Read(%s) = %q (%v), want %q", w.origin, got, ok, w.want)
		}
	}
	if n, err := claim.Expire(ctx, db, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Errorf("Expire of claims older than an hour = %d, %v; want 0", n, err)
	}
	if n, err := claim.Expire(ctx, db, time.Now().Add(time.Hour), 100); err != nil || n != 2 {
		t.Errorf("Expire of everything = %d, %v; want 2", n, err)
	}
}
