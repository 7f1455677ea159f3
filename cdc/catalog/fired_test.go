package catalog_test

import (
	"testing"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

func TestFiredBy(t *testing.T) {
	v := func(x any) event.Value { return event.Value{V: x} }
	loans := event.Table{Schema: "lending", Name: "loans", Cols: []string{"id", "amount"}, PK: []int{0}}
	cascade := catalog.FK{Name: "fk", RefCols: []string{"ID"}, OnDelete: catalog.Cascade, OnUpdate: catalog.SetNull}
	restrict := catalog.FK{Name: "fk", RefCols: []string{"id"}, OnDelete: "RESTRICT", OnUpdate: "NO ACTION"}
	loan := func(id, amount int64) []event.Value { return []event.Value{v(id), v(amount)} }
	for _, tc := range []struct {
		name string
		fk   catalog.FK
		r    event.Row
		want bool
	}{
		{"a delete, ON DELETE CASCADE", cascade, event.Row{Op: event.Delete, Before: loan(1, 5)}, true},
		{"a delete, RESTRICT", restrict, event.Row{Op: event.Delete, Before: loan(1, 5)}, false},
		{"an insert", cascade, event.Row{Op: event.Insert, After: loan(1, 5)}, false},
		{"an update of another column", cascade, event.Row{Op: event.Update, Before: loan(1, 5), After: loan(1, 6)}, false},
		{"an update of the referenced column, ON UPDATE SET NULL", cascade, event.Row{Op: event.Update, Before: loan(1, 5), After: loan(2, 5)}, true},
		{"an update of the referenced column, NO ACTION", restrict, event.Row{Op: event.Update, Before: loan(1, 5), After: loan(2, 5)}, false},
	} {
		if got := tc.fk.FiredBy(&loans, tc.r); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
