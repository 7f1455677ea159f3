package verify

import (
	"reflect"
	"strings"
	"testing"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

func TestKeyCmp(t *testing.T) {
	for _, tc := range []struct {
		cols []string
		upTo bool
		want string
		args []any
	}{
		{[]string{"id"}, false, "((`id` > ?))", []any{1}},
		{[]string{"id"}, true, "((`id` <= ?))", []any{1}},
		{[]string{"a", "b"}, false, "((`a` > ?) OR (`a` = ? AND `b` > ?))", []any{1, 1, 2}},
		{[]string{"a", "b", "c"}, true, "((`a` < ?) OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ? AND `c` <= ?))", []any{1, 1, 2, 1, 2, 3}},
	} {
		q, args := keyCmp(tc.cols, []any{1, 2, 3}[:len(tc.cols)], tc.upTo)
		if q != tc.want || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("keyCmp(%v, upTo=%v) = %s %v, want %s %v", tc.cols, tc.upTo, q, args, tc.want, tc.args)
		}
	}
	s := &schema{db: "d", table: "t", cols: []string{"x", "id"}, pk: []int{1}}
	if q, args := (chunk{}).where(s); q != "TRUE" || args != nil {
		t.Errorf("whole table: %s %v", q, args)
	}
	if q, args := (chunk{lo: []any{5}, hi: []any{9}}).where(s); q != "((`id` > ?)) AND ((`id` <= ?))" || !reflect.DeepEqual(args, []any{5, 9}) {
		t.Errorf("(5, 9]: %s %v", q, args)
	}
	scoped := *s
	scoped.scope = "`x` IN (1,2)"
	if q, args := (chunk{lo: []any{5}}).where(&scoped); q != "(`x` IN (1,2)) AND ((`id` > ?))" || !reflect.DeepEqual(args, []any{5}) {
		t.Errorf("scoped (5, end): %s %v", q, args)
	}
	if q, _ := boundarySQL(&scoped, nil, 10); !strings.Contains(q, "WHERE (`x` IN (1,2)) ORDER BY `id` LIMIT 1 OFFSET 9") {
		t.Errorf("scoped chunk bound: %s", q)
	}
	q, _ := checksumSQL(s, chunk{})
	if !strings.Contains(q, "CONCAT_WS('#', `x`, `id`, CONCAT(ISNULL(`x`), ISNULL(`id`)))") {
		t.Errorf("checksum SQL hashes the wrong row: %s", q)
	}
}

func sp(s string) *string { return &s }

func TestDiffChunk(t *testing.T) {
	s := &schema{db: "d", table: "t", cols: []string{"k1", "k2", "v"}, pk: []int{0, 1}}
	ref := []row{{sp("1"), sp("a"), sp("x")}, {sp("1"), sp("b"), nil}, {sp("2"), sp("a"), sp("y")}, {sp("3"), sp("a"), sp("same")}}
	b := []row{{sp("1"), sp("a"), sp("x")}, {sp("1"), sp("b"), sp("")}, {sp("3"), sp("a"), sp("same")}, {sp("4"), sp("a"), sp("new")}}
	c := []row{{sp("1"), sp("a"), sp("x")}, {sp("1"), sp("b"), nil}, {sp("2"), sp("a"), sp("y")}, {sp("3"), sp("a"), sp("same")}}
	got := diffChunk(s, []string{"a", "b", "c"}, [][]row{ref, b, c})
	type short struct{ Key, Region, Kind, Cols string }
	var sh []short
	for _, d := range got {
		sh = append(sh, short{d.Key, d.Region, d.Kind, strings.Join(d.Columns, ",")})
	}
	want := []short{
		{"k1=1, k2=b", "b", Different, "v"}, // NULL and '' differ
		{"k1=2, k2=a", "b", Missing, ""},
		{"k1=4, k2=a", "b", Extra, ""},
	}
	if !reflect.DeepEqual(sh, want) {
		t.Fatalf("diffs = %+v, want %+v", sh, want)
	}
	if got[1].Image != nil || *got[1].Reference["v"] != "y" || got[2].Reference != nil || *got[2].Image["v"] != "new" {
		t.Errorf("images: %+v", got)
	}

	res := &Result{Reference: "a", Regions: []string{"a", "b", "c"}, Diffs: got, DiffsTotal: 4,
		Tables: []TableResult{{Table: "d.t", DifferingChunks: 1, DifferingRows: 3}, {Table: "d.u", Error: "region b: table d.u does not exist"}, {Table: "d.v"}}}
	wantText := []string{
		"d.t: 3 row(s) differ",
		"d.u not compared: region b: table d.u does not exist",
		`d.t k1=1, k2=b: different in b: v: a NULL, b ""`,
		`d.t k1=2, k2=a: missing in b (a has k1="2" k2="a" v="y")`,
		"(2 of 4 row differences shown)",
	}
	if text := res.Differences(2); !reflect.DeepEqual(text, wantText) {
		t.Errorf("differences:\n%s\nwant\n%s", strings.Join(text, "\n"), strings.Join(wantText, "\n"))
	}
	if d := got[2].Describe("a"); d != `d.t k1=4, k2=a: extra in b (k1="4" k2="a" v="new")` {
		t.Errorf("extra: %s", d)
	}
	if text := (&Result{Tables: []TableResult{{Table: "d.t"}}}).Differences(5); len(text) != 0 {
		t.Errorf("equal result: %v", text)
	}
	gs := groupDiffs(res)
	if len(gs) != 3 || gs[0].images["c"]["v"] != nil || *gs[0].images["b"]["v"] != "" || gs[1].images["b"] != nil || gs[2].images["a"] != nil || gs[2].images["c"] != nil {
		t.Errorf("groups: %+v", gs)
	}
}

func TestFromOwner(t *testing.T) {
	tables := []config.Table{{Name: "d.users", ShardColumn: "id"}}
	const n = 16
	owner := func(b topo.Bucket) string {
		if b < 8 {
			return "a"
		}
		return "b"
	}
	auth := FromOwner(tables, n, owner)
	want := owner(topo.BucketOfString("42", n))
	region, reason, err := auth("d.users", map[string]Image{"a": {"id": sp("42")}, "b": nil})
	if err != nil || region != want || !strings.Contains(reason, "id=42") {
		t.Errorf("owner of user 42 = %q %q %v, want %s", region, reason, err, want)
	}
	if _, _, err := auth("d.global", map[string]Image{"a": {"id": sp("1")}}); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Errorf("global table: %v", err)
	}
	if _, _, err := auth("d.users", map[string]Image{"a": {"id": sp("1")}, "b": {"id": sp("2")}}); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("shard column differs: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "chunk size 0") {
		t.Errorf("zero config: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}
