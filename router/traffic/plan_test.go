package traffic

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// threeCells: a1 0-9, b1 10-19, c1 20-29; global table app.products
// homed in a, app.rates in c.
func threeCells() *router.Table {
	return router.Initial(&config.Config{Buckets: 30,
		Regions:     []config.Region{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Cells:       []config.Cell{{Name: "a1", Region: "a"}, {Name: "b1", Region: "b"}, {Name: "c1", Region: "c"}},
		Replication: config.Replication{Tables: []config.Table{{Name: "app.products", Class: config.ClassGlobal, Home: "a"}, {Name: "app.rates", Class: config.ClassGlobal, Home: "c"}}}}, time.Now())
}

func TestFormatAndRanges(t *testing.T) {
	bs := []topo.Bucket{7, 0, 1, 2, 9, 8, 12}
	if got := topo.FormatBuckets(bs); got != "0-2,7-9,12" {
		t.Fatalf("formatBuckets: %s", got)
	}
	rs := toRanges([]topo.Bucket{0, 1, 2, 7, 8, 9, 12})
	if len(rs) != 3 || rs[1] != (topo.Range{First: 7, Last: 9}) || rs[2] != (topo.Range{First: 12, Last: 12}) {
		t.Fatalf("toRanges: %v", rs)
	}
}

func TestMovesGroupsBySourceCell(t *testing.T) {
	tb := threeCells() // a1: 0-9, b1: 10-19, c1: 20-29
	rs, _ := topo.ParseBuckets("5-12,25", 30)
	ms := moves(tb, rs, "b1")
	if len(ms) != 2 || ms[0] != (Move{Cell: "a1", Region: "a", Buckets: "5-9", Count: 5}) || ms[1] != (Move{Cell: "c1", Region: "c", Buckets: "25", Count: 1}) {
		t.Fatalf("moves: %+v", ms)
	}
	if got := sourceRegions(tb, ms, nil, "b"); strings.Join(got, ",") != "a,c" {
		t.Fatalf("sourceRegions: %v", got)
	}
	if got := sourceRegions(tb, ms[:1], []string{"app.rates", "app.products"}, "b"); strings.Join(got, ",") != "a,c" {
		t.Fatalf("sourceRegions with tables: %v", got)
	}
	if got := leaving(tb, []topo.Bucket{12}, []string{"app.rates"}, "a"); strings.Join(got, ",") != "b,c" {
		t.Fatalf("leaving: %v", got)
	}
}

func TestCheckRefusesWithTheField(t *testing.T) {
	s := &Switcher{}
	tb := threeCells()
	fenced := tb.Clone()
	if err := fenced.Fence([]topo.Range{{First: 3, Last: 4}}, "sw-x"); err != nil {
		t.Fatal(err)
	}
	fencedTable := tb.Clone()
	if err := fencedTable.FenceGlobals([]string{"app.products"}, "sw-y"); err != nil {
		t.Fatal(err)
	}
	fencedRegion := tb.Clone()
	fencedRegion.Regions[1].Fenced, fencedRegion.Regions[1].Reason = true, "forced failover"
	for _, tc := range []struct {
		t    *router.Table
		req  Request
		want string
	}{
		{tb, Request{Buckets: "0-3", To: "b1"}, "reason: missing"},
		{tb, Request{To: "b1", Reason: "r"}, "buckets: missing"},
		{tb, Request{Tables: []string{"app.nope"}, To: "b", Reason: "r"}, `tables[0]: "app.nope" is not a global table`},
		{tb, Request{Tables: []string{"app.products", "app.products"}, To: "b", Reason: "r"}, "tables[1]: app.products is listed twice"},
		{tb, Request{Tables: []string{"app.products"}, To: "a", Reason: "r"}, "already region a: nothing to move"},
		{tb, Request{Tables: []string{"app.products"}, To: "z", Reason: "r"}, `to: "z" is neither a region nor a cell: use one of a, b, c, a1, b1, c1`},
		{tb, Request{Buckets: "0-3", To: "b", Reason: "r"}, `to: cell "b" does not exist`},
		{fencedTable, Request{Tables: []string{"app.products"}, To: "b", Reason: "r"}, "app.products is write-forbidden by switch sw-y"},
		{tb, Request{Buckets: "0-30", To: "b1", Reason: "r"}, "bucket 30 is out of range"},
		{tb, Request{Buckets: "0-3", To: "x9", Reason: "r"}, `to: cell "x9" does not exist: use one of a1, b1, c1`},
		{tb, Request{Buckets: "10-12", To: "b1", Reason: "r"}, "already in cell b1"},
		{tb, Request{Buckets: "0-3", To: "b1", Reason: "r", Stages: []int{0, 100}}, "stages"},
		{fenced, Request{Buckets: "0-3", To: "b1", Reason: "r"}, "bucket 3 is write-forbidden by switch sw-x"},
		{fencedRegion, Request{Buckets: "0-3", To: "b1", Reason: "r"}, "region b, which is fenced (forced failover)"},
	} {
		if _, err := s.check(tc.req, tc.t); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.req, err, tc.want)
		}
	}
	r, err := s.check(Request{Buckets: "0-3,12", To: "b1", Reason: "r"}, tb)
	if err != nil || r.count != 5 || r.Stages[0] != 100 {
		t.Fatalf("a good request: %+v %v", r, err)
	}
	r, err = s.check(Request{Tables: []string{"app.rates", "app.products"}, To: "c", Reason: "r"}, tb)
	if err != nil || r.cell.Name != "c1" || strings.Join(r.tables, ",") != "app.products" {
		t.Fatalf("a move of homes to region c: %+v %v; want cell c1 and only app.products moving", r, err)
	}
}

// links is a fixed answer about replication, for the guard's decision.
type links map[string]Link

func (l links) Position(context.Context, string) (string, error) { return "1-1-10", nil }
func (l links) Link(_ context.Context, from, to string) (Link, error) {
	if x, ok := l[from+"->"+to]; ok {
		return x, nil
	}
	return Link{}, errors.New("regiond b: connection refused")
}
func (l links) Covers(_, a, b string) (bool, error) { return a == b, nil }

// TestGuardRefusesLagAndBrokenLinks: a switch out of region a to b needs
// every link from a to a region that is not fenced: b's (the target) and
// c's (a third region, which must apply a's last writes before b's),
// except that a third region that is down (regiond gone, link halted)
// does not stop it.
func TestGuardRefusesLagAndBrokenLinks(t *testing.T) {
	ok := Link{State: "running", LagSeconds: 0.2}
	for _, tc := range []struct {
		l       links
		fencedC bool
		want    string
	}{
		{links{"a->b": ok, "a->c": ok}, false, ""},
		{links{"a->b": {State: "running", LagSeconds: 7.5}, "a->c": ok}, false, "guard: link a->b is 7.5s behind, above router.max_lag 5s"},
		{links{"a->b": {State: "halted", Error: "partition 3: unknown table"}, "a->c": ok}, false, "guard: link a->b is halted (partition 3: unknown table)"},
		{links{"a->c": ok}, false, "guard: link a->b: regiond b: connection refused"},
		{links{"a->b": ok, "a->c": {State: "running", LagSeconds: 9}}, false, "guard: link a->c is 9s behind"},
		{links{"a->b": ok}, true, ""},  // c is failed over: nothing to wait for there
		{links{"a->b": ok}, false, ""}, // c's regiond does not answer
		{links{"a->b": ok, "a->c": {State: "halted", Error: "x"}}, false, ""},
	} {
		cfg := DefaultConfig()
		cfg.Replication = tc.l
		s := &Switcher{cfg: cfg}
		tb := &router.Table{Regions: []router.Region{{Name: "a"}, {Name: "b"}, {Name: "c", Fenced: tc.fencedC}}}
		err := s.guard(context.Background(), tb, []string{"a"}, "b")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v (c fenced %v): got %v, want %q", tc.l, tc.fencedC, err, tc.want)
		}
	}
}
