package router_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
)

// withGlobal is labtest.TwoCells with global table lending.products homed in a.
func withGlobal() *config.Config {
	cfg := labtest.TwoCells()
	cfg.Replication.Tables = append(cfg.Replication.Tables, config.Table{Name: "lending.products", Class: config.ClassGlobal, Home: "a", Conflict: config.ConflictOverwrite})
	return cfg
}

// TestGlobalHomeMoves: a global table starts in its configured home; a
// switch's fence, flip and unfence move it like a bucket; a forced
// failover's MoveRegion takes it along; a table that lost it to a
// config gets it back from AddPlaces.
func TestGlobalHomeMoves(t *testing.T) {
	tb := router.Initial(withGlobal(), time.Now())
	if g, ok := tb.Global("lending.products"); !ok || g.Home != "a" || g.State != router.Serving {
		t.Fatalf("initial: %+v %v, want home a serving", g, ok)
	}
	if err := tb.FenceGlobals([]string{"lending.nope"}, "s1"); err == nil || !strings.Contains(err.Error(), "use one of lending.products") {
		t.Fatalf("fence of an unknown table: %v", err)
	}
	if err := tb.FenceGlobals([]string{"lending.products"}, "s1"); err != nil {
		t.Fatal(err)
	}
	if !tb.Holds("s1") || tb.Holds("s2") {
		t.Fatal("Holds does not see the table's fence")
	}
	if err := tb.FenceGlobals([]string{"lending.products"}, "s2"); err == nil || !strings.Contains(err.Error(), "already write-forbidden by switch s1") {
		t.Fatalf("a second fence: %v", err)
	}
	if err := tb.Validate(); err != nil {
		t.Fatal(err)
	}
	unf := tb.Clone()
	unf.Unfence("s1")
	if g, _ := unf.Global("lending.products"); g.Home != "a" || g.State != router.Serving || g.Switch != "" {
		t.Fatalf("after unfence: %+v", g)
	}
	if err := tb.Flip("s1", "b1"); err != nil {
		t.Fatal(err)
	}
	if g, _ := tb.Global("lending.products"); g.Home != "b" || g.State != router.Serving {
		t.Fatalf("after flip: %+v, want home b serving", g)
	}
	if got := tb.GlobalsHomedIn("b"); len(got) != 1 {
		t.Fatalf("homed in b: %v", got)
	}
	if _, err := tb.MoveRegion("b", "a1"); err != nil {
		t.Fatal(err)
	}
	if g, _ := tb.Global("lending.products"); g.Home != "a" {
		t.Fatalf("after MoveRegion b->a1: home %s", g.Home)
	}
	bare := router.Initial(labtest.TwoCells(), time.Now())
	if got := bare.AddPlaces(withGlobal()); strings.Join(got, ",") != "global lending.products (home a)" {
		t.Fatalf("AddPlaces: %v", got)
	}
	if got := tb.AddPlaces(withGlobal()); len(got) != 0 {
		t.Fatalf("AddPlaces moved or re-added a known table: %v", got)
	}
}

func TestValidateGlobals(t *testing.T) {
	base := router.Initial(withGlobal(), time.Now())
	for _, tc := range []struct {
		name string
		edit func(*router.Table)
		want string
	}{
		{"home", func(t *router.Table) { t.Globals[0].Home = "z" }, `home in region "z"`},
		{"twice", func(t *router.Table) { t.Globals = append(t.Globals, t.Globals[0]) }, "listed twice"},
		{"name", func(t *router.Table) { t.Globals[0].Table = "products" }, "not db.table"},
		{"fence", func(t *router.Table) { t.Globals[0].State = router.WriteForbidden }, "write-forbidden by no switch"},
		{"state", func(t *router.Table) { t.Globals[0].State = "moving" }, `state "moving"`},
	} {
		tb := base.Clone()
		tc.edit(tb)
		if err := tb.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	c := base.Clone()
	c.Globals[0].Home = "b"
	if g, _ := base.Global("lending.products"); g.Home != "a" {
		t.Fatal("Clone shares the globals with the original")
	}
}

// TestRouterAnswersGlobals: a router on a real etcd answers a global
// table's home, its fence, and a fenced home region.
func TestRouterAnswersGlobals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, c, _ := testEtcd(t)
	s := router.NewStore(c, "/g/")
	if _, err := s.Init(ctx, router.Initial(withGlobal(), time.Now())); err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, ctx, s, "r1")
	if g, ok := r.Global("lending.products"); !ok || g.Home != "a" || g.Endpoint != "http://a" || g.WriteForbidden {
		t.Fatalf("got %+v %v", g, ok)
	}
	if _, ok := r.Global("lending.ledger_entries"); ok {
		t.Fatal("a unit table answered as global")
	}
	for _, step := range []struct {
		change func(*router.Table) error
		forbid bool
	}{
		{func(t *router.Table) error { return t.FenceGlobals([]string{"lending.products"}, "s1") }, true},
		{func(t *router.Table) error { t.Unfence("s1"); return nil }, false},
		{func(t *router.Table) error { return t.FenceRegion("a", "test") }, true},
	} {
		tb, err := s.Update(ctx, router.Change{Kind: "test", Actor: "t", Reason: "t"}, step.change)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(ctx, tb.Epoch); err != nil {
			t.Fatal(err)
		}
		if g, _ := r.Global("lending.products"); g.WriteForbidden != step.forbid || g.Epoch != tb.Epoch {
			t.Fatalf("epoch %d: %+v, want write-forbidden %v", tb.Epoch, g, step.forbid)
		}
	}
}
