package apply

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

func v(x any) event.Value { return event.Value{V: x} }

func mustPlan(t *testing.T, txn *event.Txn, to [][]catalog.FK) []stmt {
	t.Helper()
	got, err := plan(dialect{}, txn, to)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPlan(t *testing.T) {
	tables := []event.Table{
		{Schema: "lending", Name: "ledger", Cols: []string{"id", "amt"}, Types: []byte{8, 8}, PK: []int{0}},
		{Schema: "lending", Name: "users", Cols: []string{"id", "name"}, Types: []byte{8, 15}, PK: []int{0}},
	}
	txn := &event.Txn{Tables: tables, Rows: []event.Row{
		{T: 0, Op: event.Insert, After: []event.Value{v(int64(1)), v(int64(10))}},
		{T: 0, Op: event.Update, Before: []event.Value{v(int64(1)), v(int64(10))}, After: []event.Value{v(int64(1)), v(int64(11))}},
		{T: 1, Op: event.Insert, After: []event.Value{v(int64(7)), v("ann")}},
		{T: 1, Op: event.Update, Before: []event.Value{v(int64(7)), v("ann")}, After: []event.Value{v(int64(8)), v("ann")}},
		{T: 0, Op: event.Delete, Before: []event.Value{v(int64(1)), v(int64(11))}},
	}}
	got := mustPlan(t, txn, nil)
	ledger, users := &txn.Tables[0], &txn.Tables[1]
	want := []stmt{
		{query: "INSERT INTO `lending`.`ledger` (`id`,`amt`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`amt`=VALUES(`amt`)", args: []any{int64(1), int64(10), int64(1), int64(11)}, table: ledger},
		{query: "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`name`=VALUES(`name`)", args: []any{int64(7), "ann"}, table: users},
		{query: "DELETE FROM `lending`.`users` WHERE `id`=?", args: []any{int64(7)}, table: users}, // the primary key changed
		{query: "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`name`=VALUES(`name`)", args: []any{int64(8), "ann"}, table: users},
		{query: "DELETE FROM `lending`.`ledger` WHERE `id`=?", args: []any{int64(1)}, table: ledger},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			t.Logf("got %d: %s %v", i, got[i].query, got[i].args)
		}
		t.Fatal("plan differs")
	}
}

// TestPlanWithoutPrimaryKey: inserts insert (no upsert: there is no key
// to upsert on), an update changes one row equal to its before image in
// every column and must find it, a delete removes one such row.
func TestPlanWithoutPrimaryKey(t *testing.T) {
	tb := event.Table{Schema: "lending", Name: "audit", Cols: []string{"user_id", "note"}, Types: []byte{8, 15}}
	txn := &event.Txn{Tables: []event.Table{tb}, Rows: []event.Row{
		{T: 0, Op: event.Insert, After: []event.Value{v(int64(1)), v("a")}},
		{T: 0, Op: event.Insert, After: []event.Value{v(int64(1)), v("a")}},
		{T: 0, Op: event.Update, Before: []event.Value{v(int64(1)), v("a")}, After: []event.Value{v(int64(1)), v(nil)}},
		{T: 0, Op: event.Delete, Before: []event.Value{v(int64(1)), v(nil)}},
	}}
	got := mustPlan(t, txn, nil)
	audit := &txn.Tables[0]
	want := []stmt{
		{query: "INSERT INTO `lending`.`audit` (`user_id`,`note`) VALUES (?,?),(?,?)", args: []any{int64(1), "a", int64(1), "a"}, table: audit},
		{query: "UPDATE `lending`.`audit` SET `user_id`=?,`note`=? WHERE `user_id` <=> ? AND `note` <=> ? LIMIT 1", args: []any{int64(1), nil, int64(1), "a"}, table: audit, one: true},
		{query: "DELETE FROM `lending`.`audit` WHERE `user_id` <=> ? AND `note` <=> ? LIMIT 1", args: []any{int64(1), nil}, table: audit},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			t.Logf("got %d: %s %v %v", i, got[i].query, got[i].args, got[i].one)
		}
		t.Fatal("plan differs")
	}
}

func TestPlanBatchLimitAndQuoting(t *testing.T) {
	tb := event.Table{Schema: "we`ird", Name: "t", Cols: []string{"id"}, Types: []byte{8}, PK: []int{0}}
	txn := &event.Txn{Tables: []event.Table{tb}}
	for i := 0; i < maxBatchRows+1; i++ {
		txn.Rows = append(txn.Rows, event.Row{T: 0, Op: event.Insert, After: []event.Value{v(int64(i))}})
	}
	got := mustPlan(t, txn, nil)
	if len(got) != 2 || len(got[0].args) != maxBatchRows || len(got[1].args) != 1 {
		t.Fatalf("%d statements for %d rows", len(got), maxBatchRows+1)
	}
	if !strings.Contains(got[0].query, "`we``ird`.`t`") {
		t.Errorf("identifier not quoted: %s", got[0].query)
	}
}

func TestParseUnix(t *testing.T) {
	for in, want := range map[string]int64{"1763862950.633038": 1763862950633038000, "1763862950": 1763862950000000000, "1763862950.5": 1763862950500000000} {
		got, err := parseUnix(in)
		if err != nil || got.UnixNano() != want {
			t.Errorf("parseUnix(%q) = %v %v", in, got.UnixNano(), err)
		}
	}
}

// TestNetPlan: a folded run leaves each key's last image: written keys in
// one upsert per table, deleted keys in one delete per table (IN for a
// one-column key, an OR of the columns for a composite one), whatever
// happened to the key before in the run.
func TestNetPlan(t *testing.T) {
	accounts := event.Table{Schema: "lending", Name: "accounts", Cols: []string{"id", "bal"}, Types: []byte{8, 8}, PK: []int{0}}
	ledger := event.Table{Schema: "lending", Name: "ledger", Cols: []string{"user_id", "seq", "amt"}, Types: []byte{8, 8, 8}, PK: []int{0, 1}}
	row := func(x ...any) []event.Value {
		out := make([]event.Value, len(x))
		for i := range x {
			out[i] = v(x[i])
		}
		return out
	}
	t1 := &event.Txn{GTID: "1-1-1", Tables: []event.Table{accounts, ledger}, Rows: []event.Row{
		{T: 0, Op: event.Insert, After: row(int64(1), int64(10))},
		{T: 0, Op: event.Delete, Before: row(int64(2), int64(20))},
		{T: 1, Op: event.Insert, After: row(int64(1), int64(1), int64(5))},
		{T: 0, Op: event.Update, Before: row(int64(3), int64(30)), After: row(int64(4), int64(30))}, // the key moves
	}}
	t2 := &event.Txn{GTID: "1-1-2", Tables: []event.Table{ledger, accounts}, Rows: []event.Row{
		{T: 1, Op: event.Update, Before: row(int64(1), int64(10)), After: row(int64(1), int64(11))},
		{T: 1, Op: event.Insert, After: row(int64(2), int64(21))}, // deleted in t1, back
		{T: 1, Op: event.Delete, Before: row(int64(4), int64(30))},
		{T: 0, Op: event.Delete, Before: row(int64(1), int64(1), int64(5))},
		{T: 0, Op: event.Delete, Before: row(int64(1), int64(0), int64(7))},
	}}
	all := fold([]*event.Txn{t1, t2})
	if len(all.Tables) != 2 || len(all.Rows) != 9 {
		t.Fatalf("fold: %d tables, %d rows; want the two tables shared and 9 rows", len(all.Tables), len(all.Rows))
	}
	got := netOf(all).plan(dialect{})
	a, l := &all.Tables[0], &all.Tables[1]
	want := []stmt{
		{query: "DELETE FROM `lending`.`accounts` WHERE `id` IN (?,?)", args: []any{int64(3), int64(4)}, table: a},
		{query: "INSERT INTO `lending`.`accounts` (`id`,`bal`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`bal`=VALUES(`bal`)", args: []any{int64(1), int64(11), int64(2), int64(21)}, table: a},
		{query: "DELETE FROM `lending`.`ledger` WHERE (`user_id`=? AND `seq`=?) OR (`user_id`=? AND `seq`=?)", args: []any{int64(1), int64(1), int64(1), int64(0)}, table: l},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			t.Logf("got %d: %s %v", i, got[i].query, got[i].args)
		}
		t.Fatal("net plan differs")
	}

	// Fresh keys: only accounts 1 is first inserted and left written
	// (accounts 4 is inserted by the key move and deleted again; ledger
	// (1,1) inserted and deleted; the rest first deleted). It is written
	// with a plain INSERT, which fails if the key is there after all.
	ps := probes(all, func(*event.Table) bool { return true })
	nt := netOf(all)
	nt.markFresh(ps)
	var marked []string
	for _, p := range ps {
		if p.fresh {
			marked = append(marked, p.tb.Name+" "+p.tb.KeyText(p.key()))
		}
	}
	if fmt.Sprint(marked) != "[accounts id=1]" {
		t.Errorf("fresh probes %v, want [accounts id=1]", marked)
	}
	got = nt.plan(dialect{})
	want = []stmt{
		want[0],
		{query: "INSERT INTO `lending`.`accounts` (`id`,`bal`) VALUES (?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`bal`=VALUES(`bal`)", args: []any{int64(2), int64(21)}, table: a},
		{query: "INSERT INTO `lending`.`accounts` (`id`,`bal`) VALUES (?,?)", args: []any{int64(1), int64(11)}, table: a, fresh: true},
		want[2],
	}
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			t.Logf("got %d: %s %v", i, got[i].query, got[i].args)
		}
		t.Fatal("net plan with a fresh key differs")
	}

	other := ledger
	other.Cols = []string{"user_id", "seq", "amount"} // the same table after a rename: not shared
	if n := len(fold([]*event.Txn{t1, {Tables: []event.Table{other}}}).Tables); n != 3 {
		t.Errorf("fold shared tables whose columns differ: %d tables, want 3", n)
	}
}

// TestUpsertPerFlavor: the golden upserts of each target flavour. MySQL
// 8.0.20+ deprecates VALUES() in ON DUPLICATE KEY UPDATE; its row alias
// (8.0.19+) is not MariaDB's syntax. Every other statement the applier
// emits is the same for both (DELETE by key, UPDATE/DELETE ... LIMIT 1
// with <=>, SAVEPOINT): the flavour tests below are the same text.
func TestUpsertPerFlavor(t *testing.T) {
	tb := &event.Table{Schema: "lending", Name: "users", Cols: []string{"id", "name"}, PK: []int{0}}
	rows := [][]event.Value{{v(int64(1)), v("ann")}, {v(int64(2)), v("bob")}}
	for flavor, want := range map[string]string{
		"mariadb": "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`name`=VALUES(`name`)",
		"":        "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `id`=VALUES(`id`),`name`=VALUES(`name`)",
		"mysql":   "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?),(?,?) AS `_region_new` ON DUPLICATE KEY UPDATE `id`=`_region_new`.`id`,`name`=`_region_new`.`name`",
	} {
		if got := dialectOf(flavor).upsert(tb, rows).query; got != want {
			t.Errorf("%q: %s\nwant %s", flavor, got, want)
		}
		nopk := *tb
		nopk.PK = nil
		if got := dialectOf(flavor).upsert(&nopk, rows).query; got != "INSERT INTO `lending`.`users` (`id`,`name`) VALUES (?,?),(?,?)" {
			t.Errorf("%q without a primary key: %s", flavor, got)
		}
	}
}

// TestSameTable: fold shares a table between transactions only when
// every field of its description is the same.
func TestSameTable(t *testing.T) {
	base := func() event.Table {
		return event.Table{Schema: "lending", Name: "loans", Cols: []string{"id", "cents"}, Types: []byte{8, 8}, PK: []int{0}}
	}
	if n := reflect.TypeOf(event.Table{}).NumField(); n != 5 {
		t.Fatalf("event.Table has %d fields: compare the new ones in sameTable, then update this test", n)
	}
	a := base()
	if b := base(); !sameTable(&a, &b) {
		t.Errorf("two copies of one table differ")
	}
	for name, change := range map[string]func(*event.Table){
		"schema": func(tb *event.Table) { tb.Schema = "other" },
		"name":   func(tb *event.Table) { tb.Name = "other" },
		"cols":   func(tb *event.Table) { tb.Cols = []string{"id", "cents", "added"} },
		"types":  func(tb *event.Table) { tb.Types = []byte{8, 3} },
		"pk":     func(tb *event.Table) { tb.PK = []int{0, 1} },
	} {
		b := base()
		change(&b)
		if sameTable(&a, &b) {
			t.Errorf("tables that differ in %s are the same", name)
		}
	}
}

// TestKeyString: keys of different tables, types or values differ.
func TestKeyString(t *testing.T) {
	tb := &event.Table{Schema: "s", Name: "t", Cols: []string{"a", "b"}, PK: []int{0, 1}}
	other := &event.Table{Schema: "s", Name: "u", Cols: []string{"a", "b"}, PK: []int{0, 1}}
	v := func(xs ...any) []event.Value {
		out := make([]event.Value, len(xs))
		for i, x := range xs {
			out[i] = event.Value{V: x}
		}
		return out
	}
	keys := map[string]string{}
	for name, k := range map[string]string{
		"int 1, int 2":            keyString(tb, v(int64(1), int64(2))),
		"uint 1, int 2":           keyString(tb, v(uint64(1), int64(2))),
		"string 1, int 2":         keyString(tb, v("1", int64(2))),
		"bytes 1, int 2":          keyString(tb, v([]byte("1"), int64(2))),
		"float 1, int 2":          keyString(tb, v(1.0, int64(2))),
		"int 12, nil":             keyString(tb, v(int64(12), nil)),
		"int 1, int 2 of u":       keyString(other, v(int64(1), int64(2))),
		"string a\\x00s:b, empty": keyString(tb, v("a\x00s:b", "")), // one key without the lengths
		"string a, b\\x00s:":      keyString(tb, v("a", "b\x00s:")),
		"string 1, string 2":      keyString(tb, v("1", "2")),
		"int 1, int 22":           keyString(tb, v(int64(1), int64(22))),
	} {
		if prev, ok := keys[k]; ok {
			t.Errorf("%s and %s have the same key %q", name, prev, k)
		}
		keys[k] = name
	}
	if keyString(tb, v(int64(1), int64(2))) != keyString(tb, v(int64(1), int64(2))) {
		t.Errorf("one key, two strings")
	}
}
