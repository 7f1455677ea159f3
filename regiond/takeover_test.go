package regiond_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
)

// TestNewLeaderFinishesFailovers: the controller's leader is killed in
// the middle of a failover, twice: a planned one, right after it recorded
// the start, and a forced one, after it fenced and held the region but
// before it moved the buckets. Each time the new leader finishes the
// failover from where it stopped (its record says "take-over"), and the
// region fails back afterwards: nothing stays "in failover".
func TestNewLeaderFinishesFailovers(t *testing.T) {
	st := labtest.Up(t, "a", "b", "c")
	tok, _ := lab.ReadToken(st.Dir)
	createSchema(t, st, "a")
	labapi.Converged(t, st, 90*time.Second)
	ctx := context.Background()
	opts := lab.Options{Dir: st.Dir, Bin: labtest.Bin()}

	// 1. A planned failover x -> y; its leader dies after "begin".
	l1 := regiondLeader(t, st, tok, "a")
	x, y := othersOf(l1)
	id := killLeaderAt(t, st, tok, l1, "begin", y, map[string]any{"from": x, "to": y, "kind": "planned", "reason": "maintenance of " + x})
	f := finished(t, st, tok, y, id)
	if f.State != controller.FailoverDone || !hasStep(f, "take-over") || !hasStep(f, "switch") {
		t.Fatalf("planned failover after the leader died: %s, steps %+v", f.State, f.Steps)
	}
	if n := ownedBy(t, st, tok, y, x); n != 0 {
		t.Fatalf("region %s still owns %d buckets after the planned failover", x, n)
	}
	if err := lab.Start(ctx, opts, l1, "regiond"); err != nil {
		t.Fatal(err)
	}
	failback(t, st, tok, y, x)

	// 2. A forced failover from -> l1 led by the new leader; it dies after
	// "hold" with the region fenced and held, its buckets not moved yet.
	l2 := regiondLeader(t, st, tok, l1)
	from := x
	if l2 == x {
		from = y
	}
	id = killLeaderAt(t, st, tok, l2, "hold", l1, map[string]any{"from": from, "to": l1, "kind": "forced", "reason": "region " + from + " lost"})
	f = finished(t, st, tok, l1, id)
	if f.State != controller.FailoverDone || !hasStep(f, "take-over") || !hasStep(f, "move") || f.RPO.Pending || f.RPO.LostCount != 0 {
		t.Fatalf("forced failover after the leader died: %s, RPO %+v, steps %+v", f.State, f.RPO, f.Steps)
	}
	if n := ownedBy(t, st, tok, l1, from); n != 0 {
		t.Fatalf("region %s still owns %d buckets after the forced failover", from, n)
	}
	// The dead leader's router holds its registration for a lease; a
	// switch started before it ends waits for it and aborts.
	deadline := time.Now().Add(30 * time.Second)
	for slices.ContainsFunc(routesFrom(t, st, tok, l1).Routers, func(r router.Info) bool { return r.Region == l2 && r.Kind == "regiond" }) {
		if time.Now().After(deadline) {
			t.Fatalf("the router of the dead regiond %s is still registered after 30s", l2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	failback(t, st, tok, l1, from)
}

// regiondLeader waits until a regiond leads the controller (as region
// sees it) and returns its name.
func regiondLeader(t *testing.T, st *lab.State, tok, region string) string {
	t.Helper()
	cs := waitController(t, st, region, tok, 60*time.Second, "a regiond leading the controller", func(cs api.ControllerStatus) bool {
		_, ok := st.Region(cs.Node.LeaderID)
		return ok
	})
	return cs.Node.LeaderID
}

// othersOf is the lab's two regions but leader, in order.
func othersOf(leader string) (string, string) {
	var out []string
	for _, r := range []string{"a", "b", "c"} {
		if r != leader {
			out = append(out, r)
		}
	}
	return out[0], out[1]
}

// killLeaderAt makes leader pause failovers after step, asks it for the
// failover req, kills its regiond once the step is recorded (as watcher
// sees it) and returns the failover's id.
func killLeaderAt(t *testing.T, st *lab.State, tok, leader, step, watcher string, req map[string]any) string {
	t.Helper()
	pause := filepath.Join(st.Dir, leader, "regiond", failover.PauseFile)
	if err := os.WriteFile(pause, []byte(step), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(pause)
	r, _ := st.Region(leader)
	body, _ := json.Marshal(req)
	go func() { // it never answers: its regiond dies first
		hr, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/v1/failovers", r.APIPort), bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(hr); err == nil {
			resp.Body.Close()
		}
	}()
	var id string
	waitController(t, st, watcher, tok, 30*time.Second, "the failover paused after "+step, func(cs api.ControllerStatus) bool {
		for _, f := range cs.State.Failovers {
			if f.Active() && f.From == req["from"] && (step == "begin" || hasStep(f, step)) {
				id = f.ID
				return true
			}
		}
		return false
	})
	if err := lab.Kill(context.Background(), st.Dir, leader, "regiond"); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s killed during failover %s after step %s", leader, id, step)
	return id
}

// finished waits until failover id has ended, as region sees it.
func finished(t *testing.T, st *lab.State, tok, region, id string) controller.FailoverRecord {
	t.Helper()
	cs := waitController(t, st, region, tok, 90*time.Second, "failover "+id+" ended by a new leader", func(cs api.ControllerStatus) bool {
		return !cs.State.Failovers[id].Active()
	})
	f := cs.State.Failovers[id]
	t.Logf("failover %s: %s after %s; steps:", id, f.State, f.EndedAt.Sub(f.StartedAt).Round(time.Millisecond))
	for _, s := range f.Steps {
		t.Logf("  %s %s: %s", s.Name, s.Result, s.Detail)
	}
	return f
}

func hasStep(f controller.FailoverRecord, name string) bool {
	return slices.ContainsFunc(f.Steps, func(s controller.FailoverStep) bool { return s.Name == name && s.Result == "ok" })
}

func routesFrom(t *testing.T, st *lab.State, tok, via string) api.RoutesAnswer {
	t.Helper()
	var a api.RoutesAnswer
	if code, body := call(t, st, via, tok, "GET", "/v1/routes", nil, &a); code != 200 {
		t.Fatalf("routes: %d %s", code, body)
	}
	return a
}

// ownedBy counts the buckets whose cell lives in region owner.
func ownedBy(t *testing.T, st *lab.State, tok, via, owner string) int {
	t.Helper()
	tb := routesFrom(t, st, tok, via).Table
	n := 0
	for b := 0; b < tb.Buckets; b++ {
		if tb.Owner(topoBucket(b)).Region == owner {
			n++
		}
	}
	return n
}

// failback brings region back through via's regiond and checks that it
// owns buckets again.
func failback(t *testing.T, st *lab.State, tok, via, region string) {
	t.Helper()
	var rep api.FailoverReport
	if code, body := call(t, st, via, tok, "POST", "/v1/failbacks", map[string]any{"to": region, "reason": "back after the test"}, &rep); code != 200 {
		t.Fatalf("failback of %s: %d %s", region, code, body)
	}
	if n := ownedBy(t, st, tok, via, region); n == 0 || rep.State != controller.FailoverDone {
		t.Fatalf("failback of %s: %s, it owns %d buckets", region, rep.State, n)
	}
}
