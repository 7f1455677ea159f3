package capture

import (
	"reflect"
	"testing"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

var (
	users = event.Table{Schema: "lending", Name: "users", Cols: []string{"id", "email", "balance"}, Types: []byte{8, 15, 246}, PK: []int{0}}
	stock = event.Table{Schema: "lending", Name: "inventory", Cols: []string{"sku", "qty"}, Types: []byte{15, 3}, PK: []int{0}}
)

func v(x any) event.Value { return event.Value{V: x} }

func uksOf(tb *event.Table) []catalog.Key {
	if tb.Name == "users" {
		return []catalog.Key{{Name: "uq_email", Cols: []string{"email"}}}
	}
	return nil
}

func txn(rows ...event.Row) *event.Txn {
	return &event.Txn{Tables: []event.Table{users, stock}, Rows: rows}
}

func upd(t int, before, after []event.Value) event.Row {
	return event.Row{T: t, Op: event.Update, Before: before, After: after}
}

func TestWritesetOverlaps(t *testing.T) {
	overlap := func(a, b *event.Txn) bool {
		in := map[uint64]bool{}
		for _, h := range Writeset(a, uksOf) {
			in[h] = true
		}
		for _, h := range Writeset(b, uksOf) {
			if in[h] {
				return true
			}
		}
		return false
	}
	u := func(id int64, email any) []event.Value { return []event.Value{v(id), v(email), v("10.00")} }
	q := func(n int64) []event.Value { return []event.Value{v("sku-1"), v(n)} }
	cases := []struct {
		name string
		a, b *event.Txn
		want bool
	}{
		{"two users and one global row", txn(upd(0, u(1, "a@x"), u(1, "a@x")), upd(1, q(0), q(1))), txn(upd(0, u(2, "b@x"), u(2, "b@x")), upd(1, q(1), q(2))), true},
		{"different users, different rows", txn(upd(0, u(1, "a@x"), u(1, "a@x"))), txn(upd(0, u(2, "b@x"), u(2, "b@x"))), false},
		{"an email moved from one user to another", txn(event.Row{T: 0, Op: event.Delete, Before: u(1, "a@x")}), txn(event.Row{T: 0, Op: event.Insert, After: u(2, "a@x")}), true},
		{"unique values equal as the collation compares them", txn(event.Row{T: 0, Op: event.Insert, After: u(1, "A@X ")}), txn(event.Row{T: 0, Op: event.Insert, After: u(2, "a@x")}), true},
		{"NULL in a unique key holds nothing", txn(event.Row{T: 0, Op: event.Insert, After: u(1, nil)}), txn(event.Row{T: 0, Op: event.Insert, After: u(2, nil)}), false},
		{"an update's old primary key", txn(upd(0, u(1, "a@x"), u(5, "a@x"))), txn(event.Row{T: 0, Op: event.Insert, After: u(1, "z@x")}), true},
		{"same key, other table", txn(upd(1, []event.Value{v("1"), v(1)}, []event.Value{v("1"), v(2)})), txn(upd(0, u(1, "a@x"), u(1, "a@x"))), false},
	}
	for _, tc := range cases {
		if got := overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: overlap = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDeps(t *testing.T) {
	d := newDeps(4, 0, 100)
	steps := []struct {
		ws   []uint64
		part int32
		seq  uint64
		want map[int32]uint64
	}{
		{[]uint64{1, 2}, 0, 1, nil},
		{[]uint64{3}, 1, 2, nil},
		{[]uint64{2, 4}, 1, 3, map[int32]uint64{0: 1}},                // row 2 last written in partition 0 by seq 1
		{[]uint64{2, 3}, 2, 4, map[int32]uint64{1: 3}},                // the highest seq in partition 1 only
		{[]uint64{2}, 2, 5, nil},                                      // its own partition orders it
		{[]uint64{1, 3, 4}, 3, 6, map[int32]uint64{0: 1, 1: 3, 2: 4}}, // 3 was last written by seq 4, in partition 2
	}
	for _, s := range steps {
		if got := d.add(s.ws, s.part, s.seq); !reflect.DeepEqual(got, s.want) {
			t.Errorf("seq %d: deps %v, want %v", s.seq, got, s.want)
		}
	}

	// After a restart, anything not seen since may have been written up to
	// the checkpoint's seq, in any partition.
	r := newDeps(3, 10, 100)
	if got := r.add([]uint64{7}, 1, 11); !reflect.DeepEqual(got, map[int32]uint64{0: 10, 2: 10}) {
		t.Errorf("after a restart: %v", got)
	}
	if got := r.add([]uint64{7}, 2, 12); !reflect.DeepEqual(got, map[int32]uint64{1: 11}) {
		t.Errorf("seen since the restart: %v", got)
	}
	// A full history forgets, and what it forgot becomes the floor.
	f := newDeps(2, 0, 3)
	f.add([]uint64{1, 2}, 0, 1)
	f.add([]uint64{3, 4}, 0, 2) // over 3: forgets 1 and 2, floor 1
	if got := f.add([]uint64{1}, 1, 3); !reflect.DeepEqual(got, map[int32]uint64{0: 1}) {
		t.Errorf("forgotten hash: %v", got)
	}
	// An unknown writeset depends on everything before it, and so does
	// whatever comes after it with an unseen hash.
	if got := f.all(1, 4); !reflect.DeepEqual(got, map[int32]uint64{0: 3}) {
		t.Errorf("all: %v", got)
	}
	if got := f.add([]uint64{99}, 0, 5); !reflect.DeepEqual(got, map[int32]uint64{1: 4}) {
		t.Errorf("after an unknown writeset: %v", got)
	}
}
