package apply

import (
	"context"
	"testing"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/lab/labtest"
)

// TestQuickStatesAgreeOnMariaDB: the probe's byte comparison in Go
// (quick.go) decides exactly what MySQL's own comparison decides, for
// values whose text differs from the server's but which MySQL finds
// equal (a case-insensitive name, a DECIMAL written shorter, an ENUM by
// its index, a CHAR with trailing spaces, a float, a string key), for
// changed rows and for missing ones; and it settles the ordinary case
// (the target row is the before image) without MySQL's comparison. (make
// test-unit skips it: it starts a MariaDB.)
func TestQuickStatesAgreeOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	for _, q := range []string{
		"CREATE DATABASE q",
		"CREATE TABLE q.t (id BIGINT PRIMARY KEY, name VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, code CHAR(5) NOT NULL, amount DECIMAL(10,2) NOT NULL, kind ENUM('a','b') NOT NULL, at DATETIME(6) NOT NULL, note VARCHAR(10) NULL, bin VARBINARY(4) NOT NULL)",
		"INSERT INTO q.t SELECT seq, 'Alice', 'X', 12.50, 'b', '2026-01-02 03:04:05.000006', NULL, 0x0102 FROM q.seq_1_to_8",
		"CREATE TABLE q.f (id INT UNSIGNED PRIMARY KEY, rate DOUBLE NOT NULL)",
		"INSERT INTO q.f VALUES (1, 0.1)",
		"CREATE TABLE q.s (k VARCHAR(10) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT NOT NULL)",
		"INSERT INTO q.s VALUES ('ABC', 1)",
		"CREATE TABLE q.v (id INT PRIMARY KEY, txt VARCHAR(40) NOT NULL, d DATE NOT NULL)",
		"INSERT INTO q.v VALUES (1, '2026-01-02T03:04:05.000006Z', '2026-01-02')",
		"CREATE TABLE q.c (a INT, b INT, v INT NOT NULL, PRIMARY KEY (a, b))",
		"INSERT INTO q.c VALUES (1, 1, 10), (1, 2, 20), (2, 1, 30)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tt := &event.Table{Schema: "q", Name: "t", Cols: []string{"id", "name", "code", "amount", "kind", "at", "note", "bin"}, PK: []int{0}}
	row := func(id int64, edit func([]event.Value)) []event.Value {
		img := []event.Value{{V: id}, {V: "Alice"}, {V: "X"}, {V: "12.50"}, {V: "b"}, {V: "2026-01-02 03:04:05.000006"}, {V: nil}, {V: []byte{1, 2}}}
		if edit != nil {
			edit(img)
		}
		return img
	}
	changed := func(img []event.Value) []event.Value {
		img = append([]event.Value(nil), img...)
		img[6] = event.Value{V: "changed"}
		return img
	}
	upd := func(before []event.Value) *probe {
		return &probe{tb: tt, op: event.Update, before: before, after: changed(before)}
	}
	ft := &event.Table{Schema: "q", Name: "f", Cols: []string{"id", "rate"}, PK: []int{0}}
	st := &event.Table{Schema: "q", Name: "s", Cols: []string{"k", "v"}, PK: []int{0}}
	vt := &event.Table{Schema: "q", Name: "v", Cols: []string{"id", "txt", "d"}, PK: []int{0}}
	vrow := func(txt, d string) []event.Value { return []event.Value{{V: int64(1)}, {V: txt}, {V: d}} }
	cases := []struct {
		name     string
		p        *probe
		conflict bool
	}{
		{"the row as the source saw it", upd(row(1, nil)), false},
		{"a name in another case (general_ci)", upd(row(2, func(v []event.Value) { v[1].V = "ALICE" })), false},
		{"a DECIMAL written shorter", upd(row(3, func(v []event.Value) { v[3].V = "12.5" })), false},
		{"an ENUM by its index", upd(row(4, func(v []event.Value) { v[4].V = int64(2) })), false},
		{"changed here: a NULL the source saw set", upd(row(5, func(v []event.Value) { v[6].V = "x" })), true},
		{"a key the target lacks", upd(row(60, nil)), true},
		{"an insert of the row the target holds", &probe{tb: tt, op: event.Insert, after: row(7, nil)}, false},
		{"a DATETIME changed here", upd(row(1, func(v []event.Value) { v[5].V = "2026-01-02 03:04:05.000007" })), true},
		{"a DATE", &probe{tb: vt, op: event.Delete, before: vrow("2026-01-02T03:04:05.000006Z", "2026-01-02")}, false},
		{"a DATE changed here", &probe{tb: vt, op: event.Delete, before: vrow("2026-01-02T03:04:05.000006Z", "2026-01-03")}, true},
		{"text that names the same instant in another way", &probe{tb: vt, op: event.Delete, before: vrow("2026-01-02 03:04:05.000006", "2026-01-02")}, true},
		{"a delete whose CHAR has trailing spaces", &probe{tb: tt, op: event.Delete, before: row(8, func(v []event.Value) { v[2].V = "X  " })}, false},
		{"a delete of a row changed here", &probe{tb: tt, op: event.Delete, before: row(8, func(v []event.Value) { v[7].V = []byte{9} })}, true},
		{"a float", &probe{tb: ft, op: event.Update, before: []event.Value{{V: uint64(1)}, {V: 0.1}}, after: []event.Value{{V: uint64(1)}, {V: 0.2}}}, false},
		{"a float changed here", &probe{tb: ft, op: event.Update, before: []event.Value{{V: uint64(1)}, {V: 0.3}}, after: []event.Value{{V: uint64(1)}, {V: 0.2}}}, true},
		{"a string key in another case", &probe{tb: st, op: event.Update, before: []event.Value{{V: "abc"}, {V: int64(1)}}, after: []event.Value{{V: "abc"}, {V: int64(2)}}}, false},
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	// One probe per table and key at a time: a probe set holds each key once.
	for _, c := range cases {
		ps := []*probe{c.p}
		got, err := readStates(ctx, tx, ps)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		exact := make([]state, 1)
		if err := exactChunk(ctx, tx, ps, []int{0}, exact); err != nil {
			t.Fatal(err)
		}
		g, e := conflicted(c.p.op, got[0].exists, got[0].sameBefore, got[0].sameAfter), conflicted(c.p.op, exact[0].exists, exact[0].sameBefore, exact[0].sameAfter)
		if g != c.conflict || e != c.conflict {
			t.Errorf("%s: conflict %v (MySQL's comparison alone: %v, state %+v), want %v", c.name, g, e, exact[0], c.conflict)
		}
	}
	// The ordinary case is settled in Go; a string key is not.
	quick := make([]state, 1)
	if ok, err := quickStates(ctx, tx, []*probe{cases[0].p}, []int{0}, quick); err != nil || !ok || !quick[0].exists || !quick[0].sameBefore || quick[0].sameAfter {
		t.Errorf("the row as the source saw it: quick %v %+v (%v), want settled: exists, the before image", ok, quick[0], err)
	}
	if ok, err := quickStates(ctx, tx, []*probe{cases[len(cases)-1].p}, []int{0}, quick); err != nil || ok {
		t.Errorf("a string key: quick %v (%v), want left to MySQL", ok, err)
	}
	// Several keys of one table in one read, some missing.
	ps := []*probe{upd(row(1, nil)), upd(row(61, nil)), upd(row(2, nil)), upd(row(3, func(v []event.Value) { v[1].V = "Bob" }))}
	got, err := readStates(ctx, tx, ps)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, true, false, true}
	for i, p := range ps {
		if c := conflicted(p.op, got[i].exists, got[i].sameBefore, got[i].sameAfter); c != want[i] {
			t.Errorf("batch probe %d (key %v): conflict %v, want %v", i, p.key()[0].V, c, want[i])
		}
	}
	// The same with a two-column integer key.
	ct := &event.Table{Schema: "q", Name: "c", Cols: []string{"a", "b", "v"}, PK: []int{0, 1}}
	crow := func(a, b, v int64) []event.Value { return []event.Value{{V: a}, {V: b}, {V: v}} }
	cupd := func(before []event.Value) *probe {
		after := append([]event.Value(nil), before...)
		after[2] = event.Value{V: int64(99)}
		return &probe{tb: ct, op: event.Update, before: before, after: after}
	}
	ps = []*probe{cupd(crow(1, 2, 20)), cupd(crow(2, 2, 40)), cupd(crow(2, 1, 31)), cupd(crow(1, 1, 10))}
	if ok, err := quickStates(ctx, tx, ps, []int{0, 1, 2, 3}, make([]state, len(ps))); err != nil || !ok {
		t.Errorf("a two-column integer key: quick %v (%v), want settled in Go", ok, err)
	}
	if got, err = readStates(ctx, tx, ps); err != nil {
		t.Fatal(err)
	}
	want = []bool{false, true, true, false}
	for i, p := range ps {
		if c := conflicted(p.op, got[i].exists, got[i].sameBefore, got[i].sameAfter); c != want[i] {
			t.Errorf("two-column key probe %d (%v, %v): conflict %v, want %v", i, p.key()[0].V, p.key()[1].V, c, want[i])
		}
	}
}
