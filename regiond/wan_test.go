package regiond_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/liveness"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// TestNetworkFaults runs one three-region lab whose cross-region
// connections all go through the wan component, with auto failover on:
// WAN latency slows a link but loses nothing; a partition that isolates
// one observer (c's regiond, on every path, both ways) for well past
// fail_after fails nothing over, and everything converges after healing;
// a region that fails again within the cooldown is not failed over twice.
func TestNetworkFaults(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{WAN: true, AutoFailover: true, MaxLag: 10 * time.Second}, "a", "b", "c")
	tok, _ := lab.ReadToken(st.Dir)
	w, err := lab.OpenWAN(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	createSchema(t, st, "a")
	labapi.Converged(t, st, 60*time.Second)
	waitController(t, st, "a", tok, 30*time.Second, "a leader and all four members", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID != "" && len(cs.Members) == 4
	})

	t.Run("latency slows a link and loses nothing", func(t *testing.T) {
		const delay = 150 * time.Millisecond
		// b's consumer of a's broker: every byte from a's Kafka to b waits delay.
		if err := w.Latency("b", "a", delay, 0, lab.KindKafka); err != nil {
			t.Fatal(err)
		}
		a := openDB(t, st, "a", "")
		start := time.Now()
		for i := range 50 {
			mustExec(t, a, fmt.Sprintf("INSERT INTO lending.users (id, name, home_cell) VALUES (%d, 'wan', 'a1')", 1000+i))
		}
		arrived := map[string]time.Duration{}
		deadline := time.Now().Add(60 * time.Second)
		for len(arrived) < 2 {
			for _, r := range []string{"b", "c"} {
				if _, ok := arrived[r]; !ok && countUsers(t, st, r, 1000, 1050) == 50 {
					arrived[r] = time.Since(start)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("rows did not arrive in 60s: b %d, c %d of 50", countUsers(t, st, "b", 1000, 1050), countUsers(t, st, "c", 1000, 1050))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("50 rows written in a arrived in c (direct) after %s, in b (a->b Kafka +%s each way) after %s",
			arrived["c"].Round(time.Millisecond), delay, arrived["b"].Round(time.Millisecond))
		if arrived["b"] < delay {
			t.Errorf("rows reached b after %s, faster than the %s the WAN adds: the link does not go through the wan", arrived["b"], delay)
		}
		if err := w.Heal("b", "a"); err != nil {
			t.Fatal(err)
		}
		labapi.Converged(t, st, 60*time.Second)
		sameTables(t, st, "lending.users")
	})

	t.Run("a switch waits for the third region", func(t *testing.T) {
		// c's consumer of a's broker is slow: every byte between them
		// takes 1.5 s more each way, so each fetch takes 3 s more and a's
		// writes reach c 1.5 to 4.5 s late (3 s on average; the lab's
		// router.max_lag is 10 s, as a WAN that slow would need). A switch of a's users to b must not flip
		// before c has applied a's last writes too, or c would apply b's
		// first writes of those rows and then a's older ones over them.
		createLedger(t, st)
		labapi.Converged(t, st, 60*time.Second)
		var users []int64
		var bs []topo.Bucket
		for u := int64(1); len(users) < 20; u++ {
			if st.HomeRegion(u) == 0 {
				users = append(users, u)
				bs = append(bs, topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets))
			}
		}
		slices.Sort(bs)
		gwA := st.Regions[0].GatewayURL()
		load := loadOf(t, gwA, users, 40)
		if err := w.Latency("c", "a", 1500*time.Millisecond, 0, lab.KindKafka); err != nil {
			t.Fatal(err)
		}
		lctx, stopLoad := context.WithCancel(context.Background())
		defer stopLoad()
		done := make(chan struct{})
		go func() { defer close(done); load.Run(lctx) }()
		time.Sleep(6 * time.Second) // c falls behind
		var lagC float64
		var sc api.Status
		if code, _ := call(t, st, "c", tok, "GET", "/v1/status", nil, &sc); code == 200 {
			for _, l := range sc.Links {
				if l.From == "a" {
					lagC = l.LagSeconds
				}
			}
		}
		var rec traffic.Record
		if code, body := call(t, st, "a", tok, "POST", "/v1/switches", map[string]any{"buckets": topo.FormatBuckets(slices.Compact(bs)), "to": "b1", "reason": "third region slow"}, &rec); code != 202 {
			t.Fatalf("switch: %d %s", code, body)
		}
		final := waitSwitch(t, st, "a", tok, rec.ID)
		time.Sleep(2 * time.Second) // b serves the users' writes now
		stopLoad()
		<-done
		if final.State != traffic.Done {
			t.Fatalf("switch with c's link slow: %s %s", final.State, final.Error)
		}
		waited := false
		for _, s := range final.Steps {
			waited = waited || strings.Contains(s.Detail, "a->c applied")
		}
		if !waited {
			t.Errorf("the switch did not wait for link a->c: %+v", final.Steps)
		}
		if err := w.Heal("c", "a"); err != nil {
			t.Fatal(err)
		}
		res := ledger.Summarize(load.History.Writes())
		if res.ByRegion["a"] == 0 || res.ByRegion["b"] == 0 {
			t.Fatalf("the load was not served by both owners: %+v", res)
		}
		labapi.Converged(t, st, 60*time.Second)
		sameTables(t, st, lab.LedgerTables...)
		t.Logf("switch with a->c %.1f s behind: write-forbidden %d ms; %d writes (%v); every region identical", lagC, final.WriteForbiddenMS, res.Acked, res.ByRegion)
	})

	t.Run("partition isolating one observer fails nothing over", func(t *testing.T) {
		before := tableFrom(t, st, "a", tok)
		if err := w.Isolate("c"); err != nil {
			t.Fatal(err)
		}
		cut := time.Now()
		waitController(t, st, "a", tok, 30*time.Second, "a loses c's regiond", func(cs api.ControllerStatus) bool {
			return !slices.ContainsFunc(cs.Members, func(m liveness.MemberInfo) bool { return m.Name == "c" })
		})
		waitController(t, st, "c", tok, 30*time.Second, "c loses everyone", func(cs api.ControllerStatus) bool {
			return len(cs.Members) == 1
		})
		// Writes on both sides during the partition: a's cannot reach c
		// (c's consumer is cut off), c's reach a (c's broker is not).
		mustExec(t, openDB(t, st, "a", ""), "INSERT INTO lending.users (id, name, home_cell) VALUES (2000, 'during', 'a1')")
		mustExec(t, openDB(t, st, "c", ""), "INSERT INTO lending.users (id, name, home_cell) VALUES (3000, 'during', 'c1')")
		// Hold for three times the lab's old fail_after (2s; 1s now), then look.
		time.Sleep(time.Until(cut.Add(3 * 2 * time.Second)))
		for _, view := range []string{"a", "b", "c"} {
			cs, ok := controllerStatus(t, st, view, tok)
			if !ok {
				t.Fatalf("%s's regiond does not answer GET /v1/controller", view)
			}
			for _, r := range cs.Regions {
				if r.Failed {
					t.Errorf("%s's detector declared %s failed during the partition: %+v", view, r.Region, r)
				}
			}
			if view != "c" {
				checkNoFailover(t, view, cs.State)
			}
		}
		if n := countUsers(t, st, "c", 2000, 2001); n != 0 {
			t.Fatalf("a's row reached c through the partition: the partition does not cut c's consumer")
		}
		if err := w.HealAll(); err != nil {
			t.Fatal(err)
		}
		for _, view := range []string{"a", "c"} {
			waitController(t, st, view, tok, 60*time.Second, view+" sees all four members again", func(cs api.ControllerStatus) bool {
				return len(cs.Members) == 4 && cs.Node.LeaderID != ""
			})
		}
		labapi.Converged(t, st, 60*time.Second)
		sameTables(t, st, "lending.users")
		if n := countUsers(t, st, "c", 2000, 2001) + countUsers(t, st, "a", 3000, 3001); n != 2 {
			t.Errorf("writes of the partition did not cross after healing: %d of 2", n)
		}
		if after := tableFrom(t, st, "a", tok); after.Epoch != before.Epoch {
			t.Errorf("routing table changed during the partition: epoch %d -> %d", before.Epoch, after.Epoch)
		}
		cs, _ := controllerStatus(t, st, "a", tok)
		checkNoFailover(t, "a", cs.State)
		t.Logf("c isolated for %s; no failover; converged %s after the cut", (3 * 2 * time.Second), time.Since(cut).Round(time.Millisecond))
	})

	t.Run("flapping suppressed by the cooldown", func(t *testing.T) {
		ctx := context.Background()
		if err := lab.Kill(ctx, st.Dir, "c", "all"); err != nil {
			t.Fatal(err)
		}
		cs := waitController(t, st, "a", tok, 60*time.Second, "c failed over by the controller", func(cs api.ControllerStatus) bool {
			return forcedFailovers(cs.State, "c") == 1 && cs.State.Regions["c"].Fenced
		})
		if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "c", "all"); err != nil {
			t.Fatal(err)
		}
		waitController(t, st, "a", tok, 60*time.Second, "c back and its RPO complete", func(cs api.ControllerStatus) bool {
			for _, f := range cs.State.Failovers {
				if f.From == "c" && f.RPO.Pending {
					return false
				}
			}
			return slices.ContainsFunc(cs.Members, func(m liveness.MemberInfo) bool { return m.Name == "c" }) && !failed(cs, "c")
		})
		var back api.FailoverReport
		if code, body := call(t, st, "a", tok, "POST", "/v1/failbacks", map[string]any{"to": "c", "reason": "c repaired"}, &back); code != 200 {
			t.Fatalf("failback: %d %s", code, body)
		}
		// c serves again; it fails again within the cooldown (1m in the lab).
		again := time.Now()
		if err := lab.Kill(ctx, st.Dir, "c", "all"); err != nil {
			t.Fatal(err)
		}
		waitController(t, st, "a", tok, 30*time.Second, "a loses c again", func(cs api.ControllerStatus) bool {
			return !slices.ContainsFunc(cs.Members, func(m liveness.MemberInfo) bool { return m.Name == "c" })
		})
		time.Sleep(time.Until(again.Add(3 * 2 * time.Second)))
		cs, _ = controllerStatus(t, st, "a", tok)
		if n := forcedFailovers(cs.State, "c"); n != 1 || cs.State.Regions["c"].Fenced {
			t.Fatalf("c failed over %d times (fenced %v); within the cooldown its second failure must not fail it over again", n, cs.State.Regions["c"].Fenced)
		}
		for _, r := range cs.Regions {
			if r.Region != "c" {
				continue
			}
			// The observers agree c is gone: only the cooldown holds the failover back.
			if r.Failed || 2*len(r.Lost) <= r.Of || !r.CooldownUntil.After(time.Now()) {
				t.Fatalf("detector's view of c after its second failure: %+v; want lost by a majority, not failed, in cooldown", r)
			}
			t.Logf("c failed again %s after its failback: lost by %v of %d, not failed over (cooldown until %s)",
				time.Since(again).Round(time.Millisecond), r.Lost, r.Of, r.CooldownUntil.Format(time.TimeOnly))
		}
	})
}

// countUsers counts the users with lo <= id < hi in region's MySQL.
func countUsers(t *testing.T, st *lab.State, region string, lo, hi int) int {
	t.Helper()
	var n int
	if err := openDB(t, st, region, "").QueryRow("SELECT COUNT(*) FROM lending.users WHERE id >= ? AND id < ?", lo, hi).Scan(&n); err != nil {
		t.Fatalf("count users in %s: %v", region, err)
	}
	return n
}

// checkNoFailover fails the test if the controller state seen from view
// has a failover or a fenced region.
func checkNoFailover(t *testing.T, view string, s *controller.State) {
	t.Helper()
	if s == nil {
		t.Fatalf("%s's regiond reports no controller state", view)
	}
	for id, f := range s.Failovers {
		t.Errorf("failover %s of %s seen from %s: %+v", id, f.From, view, f)
	}
	for name, r := range s.Regions {
		if r.Fenced {
			t.Errorf("region %s fenced (seen from %s): %+v", name, view, r)
		}
	}
}

// forcedFailovers counts the controller's forced failovers of region.
func forcedFailovers(s *controller.State, region string) int {
	n := 0
	if s == nil {
		return 0
	}
	for _, f := range s.Failovers {
		if f.From == region && f.Kind == controller.KindForced {
			n++
		}
	}
	return n
}
