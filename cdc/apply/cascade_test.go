package apply

import (
	"reflect"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// The lending schema of the foreign key tests: a loan's installments
// follow it (CASCADE both ways), its collateral is unlinked when it goes
// (SET NULL) and follows a renumbering, a dispute forbids its delete
// (RESTRICT: nothing to repeat).
var (
	loans        = event.Table{Schema: "lending", Name: "loans", Cols: []string{"id", "user_id", "code"}, Types: []byte{8, 8, 15}, PK: []int{0}}
	installments = catalog.FK{Name: "fk_loan", Schema: "lending", Table: "installments", Cols: []string{"loan_id"},
		RefSchema: "lending", RefTable: "loans", RefCols: []string{"id"}, OnDelete: catalog.Cascade, OnUpdate: catalog.Cascade}
	collateral = catalog.FK{Name: "fk_coll", Schema: "lending", Table: "collateral", Cols: []string{"loan_id"},
		RefSchema: "lending", RefTable: "loans", RefCols: []string{"id"}, OnDelete: catalog.SetNull, OnUpdate: catalog.Cascade}
	disputes = catalog.FK{Name: "fk_dispute", Schema: "lending", Table: "disputes", Cols: []string{"loan_id"},
		RefSchema: "lending", RefTable: "loans", RefCols: []string{"id"}, OnDelete: "RESTRICT", OnUpdate: "NO ACTION"}
	// byCode references the loan's code (a unique column, not the key),
	// and sets the child's to NULL when it changes.
	byCode = catalog.FK{Name: "fk_code", Schema: "lending", Table: "statements", Cols: []string{"loan_code"},
		RefSchema: "lending", RefTable: "loans", RefCols: []string{"CODE"}, OnDelete: "NO ACTION", OnUpdate: catalog.SetNull}
	loanFKs = []catalog.FK{installments, collateral, disputes, byCode}
)

func loan(id int64, code any) []event.Value { return []event.Value{v(id), v(int64(7)), v(code)} }

func TestCascadesOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    event.Row
		want []cascade
	}{
		{"an insert sets off nothing", event.Row{Op: event.Insert, After: loan(1, "L1")}, nil},
		{"a delete deletes the installments and unlinks the collateral",
			event.Row{Op: event.Delete, Before: loan(1, "L1")},
			[]cascade{{fk: installments, old: []any{int64(1)}, del: true}, {fk: collateral, old: []any{int64(1)}, set: []any{nil}}}},
		{"an update of other columns sets off nothing",
			event.Row{Op: event.Update, Before: loan(1, "L1"), After: []event.Value{v(int64(1)), v(int64(8)), v("L1")}}, nil},
		{"a renumbering moves installments and collateral",
			event.Row{Op: event.Update, Before: loan(1, "L1"), After: loan(2, "L1")},
			[]cascade{{fk: installments, old: []any{int64(1)}, set: []any{int64(2)}}, {fk: collateral, old: []any{int64(1)}, set: []any{int64(2)}}}},
		{"a new code unlinks the statements",
			event.Row{Op: event.Update, Before: loan(1, "L1"), After: loan(1, "L2")},
			[]cascade{{fk: byCode, old: []any{"L1"}, set: []any{nil}}}},
		{"a NULL code has no statements",
			event.Row{Op: event.Update, Before: loan(1, nil), After: loan(1, "L2")}, nil},
	} {
		got, err := cascadesOf(&loans, tc.r, loanFKs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	// A referenced column the row does not carry: the tables differ.
	narrow := event.Table{Schema: "lending", Name: "loans", Cols: []string{"id"}, PK: []int{0}}
	if _, err := cascadesOf(&narrow, event.Row{Op: event.Delete, Before: []event.Value{v(int64(1))}}, []catalog.FK{byCode, {Name: "x", RefCols: []string{"code"}, OnDelete: catalog.Cascade}}); err == nil || !strings.Contains(err.Error(), "code") {
		t.Errorf("a missing referenced column: %v; want an error naming it", err)
	}
}

func TestCascadeStatements(t *testing.T) {
	for _, tc := range []struct {
		c     cascade
		query string
		args  []any
	}{
		{cascade{fk: installments, old: []any{int64(1)}, del: true}, "DELETE FROM `lending`.`installments` WHERE `loan_id` = ?", []any{int64(1)}},
		{cascade{fk: collateral, old: []any{int64(1)}, set: []any{nil}}, "UPDATE `lending`.`collateral` SET `loan_id` = ? WHERE `loan_id` = ?", []any{nil, int64(1)}},
		{cascade{fk: catalog.FK{Schema: "s", Table: "c", Cols: []string{"a", "b"}}, old: []any{1, 2}, set: []any{3, 4}}, "UPDATE `s`.`c` SET `a` = ?, `b` = ? WHERE `a` = ? AND `b` = ?", []any{3, 4, 1, 2}},
	} {
		s := tc.c.stmt()
		if s.query != tc.query || !reflect.DeepEqual(s.args, tc.args) {
			t.Errorf("got %s %v\nwant %s %v", s.query, s.args, tc.query, tc.args)
		}
	}
}

// TestPlanCascades: the statement that writes a row that sets off
// actions carries them, and a batch of upserts ends with such a row: the
// actions run before anything after the row.
func TestPlanCascades(t *testing.T) {
	txn := &event.Txn{Tables: []event.Table{loans}, Rows: []event.Row{
		{Op: event.Insert, After: loan(5, "L5")},
		{Op: event.Update, Before: loan(1, "L1"), After: loan(1, "L9")},
		{Op: event.Insert, After: loan(6, "L6")},
		{Op: event.Delete, Before: loan(2, "L2")},
	}}
	got := mustPlan(t, txn, [][]catalog.FK{loanFKs})
	var shape []string
	for _, s := range got {
		shape = append(shape, strings.Fields(s.query)[0]+" "+strings.Repeat("+", len(s.cascades)))
	}
	if want := []string{"INSERT +", "INSERT ", "DELETE ++"}; !reflect.DeepEqual(shape, want) {
		t.Errorf("plan %q; want %q (statements, + for each action they carry)", shape, want)
	}
	if plain := mustPlan(t, txn, nil); len(plain) != 2 {
		t.Errorf("without foreign keys: %d statements; want the upserts batched and the delete", len(plain))
	}
}

// TestSegments: a transaction splits after each row that sets off an
// action, not after its last row; without foreign keys it is whole.
func TestSegments(t *testing.T) {
	txn := &event.Txn{Tables: []event.Table{loans}, Rows: []event.Row{
		{Op: event.Insert, After: loan(5, "L5")},
		{Op: event.Delete, Before: loan(2, "L2")},                        // installments deleted, collateral unlinked
		{Op: event.Update, Before: loan(5, "L5"), After: loan(5, "L5b")}, // statements unlinked
		{Op: event.Update, Before: loan(6, "L6"), After: loan(6, "L6")},
		{Op: event.Delete, Before: loan(7, "L7")},
	}}
	segs := segments(txn, [][]catalog.FK{loanFKs})
	var sizes []int
	for _, s := range segs {
		sizes = append(sizes, len(s.Rows))
	}
	if !reflect.DeepEqual(sizes, []int{2, 1, 2}) {
		t.Errorf("segments of %v rows; want [2 1 2]", sizes)
	}
	if segs := segments(txn, nil); len(segs) != 1 || len(segs[0].Rows) != 5 {
		t.Errorf("without foreign keys: %d segments", len(segs))
	}
}
