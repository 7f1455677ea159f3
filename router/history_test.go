package router_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// TestHistoryCheck judges writes against a real routing history: bucket
// 0 is a1's (region a) at epoch 1, fenced by a switch at epoch 2 (t0+10s)
// and flipped to b1 (region b) at epoch 3 (t0+20s). A stamped write is
// judged by its epoch and cell; an unstamped one by its commit time,
// allowing ClockSkew either side.
func TestHistoryCheck(t *testing.T) {
	_, c, _ := testEtcd(t)
	ctx := context.Background()
	s := router.NewStore(c, "/t/")
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	init := router.Initial(labtest.TwoCells(), t0)
	init.Change.Time = t0
	if ok, err := s.Init(ctx, init); !ok || err != nil {
		t.Fatal(ok, err)
	}
	r0 := []topo.Range{{First: 0, Last: 0}}
	if _, err := s.Update(ctx, router.Change{Kind: "fence", Actor: "test", Switch: "s1", Time: t0.Add(10 * time.Second)}, func(t *router.Table) error { return t.Fence(r0, "s1") }); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Update(ctx, router.Change{Kind: "flip", Actor: "test", Switch: "s1", Time: t0.Add(20 * time.Second)}, func(t *router.Table) error { return t.Flip("s1", "b1") })
	if err != nil {
		t.Fatal(err)
	}
	h := router.NewHistory(s, func() *router.Table { return cur })
	for _, c := range []struct {
		name   string
		src    string
		b      topo.Bucket
		epoch  uint64
		cell   string
		at     time.Duration // after t0, for unstamped writes
		says   string        // "" allowed
		judged uint64        // the epoch Check judged by
	}{
		{"stamped by the owner", "a", 0, 1, "a1", 0, "", 1},
		{"stamped, another region's bucket", "a", 12, 1, "a1", 0, "belonged to cell b1 in region b (epoch 1)", 1},
		{"stamped with the wrong cell", "b", 12, 1, "b2", 0, "not the stamp's b2", 1},
		{"stamped while fenced", "a", 0, 2, "a1", 0, "write-forbidden by switch s1 (epoch 2)", 2},
		{"stamped by the new owner", "b", 0, 3, "b1", 0, "", 3},
		{"unstamped before the fence", "a", 0, 0, "", 5 * time.Second, "", 1},
		{"unstamped, within the skew of the fence", "a", 0, 0, "", 10 * time.Second, "", 1},
		{"unstamped while fenced", "a", 0, 0, "", 15 * time.Second, "write-forbidden", 2},
		{"unstamped after the flip", "a", 0, 0, "", time.Minute, "belonged to cell b1 in region b (epoch 3)", 3},
		{"unstamped by the new owner", "b", 0, 0, "", time.Minute, "", 3},
		{"unstamped, b before the flip", "b", 0, 0, "", 5 * time.Second, "belonged to cell a1", 1},
	} {
		epoch, got, err := h.Check(ctx, c.src, c.b, c.epoch, c.cell, t0.Add(c.at))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (c.says == "") != (got == "") || !strings.Contains(got, c.says) {
			t.Errorf("%s: Check = %q, want %q", c.name, got, c.says)
		}
		if epoch != c.judged {
			t.Errorf("%s: judged by epoch %d, want %d", c.name, epoch, c.judged)
		}
	}
}
