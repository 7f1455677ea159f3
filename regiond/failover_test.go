package regiond_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/topo"
)

// TestPlannedFailover: users of region a write through the gateway while
// region a is failed over to b as planned; the request is sent to both
// regions' regiond (a follower forwards it to the controller's leader);
// every bucket ends in b's cell, nothing acknowledged is lost or doubled,
// and the controller's replicated history has the failover, done.
func TestPlannedFailover(t *testing.T) {
	st, tok := ledgerLab(t, lab.Options{})
	cs := waitController(t, st, "a", tok, 30*time.Second, "a regiond leading the controller", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID == "a" || cs.Node.LeaderID == "b"
	})
	follower := map[string]string{"a": "b", "b": "a"}[cs.Node.LeaderID]

	for _, tc := range []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{"from": "x", "kind": "planned", "reason": "r"}, `from: region "x" is not in the config`},
		{map[string]any{"from": "a", "kind": "planned"}, "reason: missing"},
		{map[string]any{"from": "a", "to": "a", "kind": "planned", "reason": "r"}, `to: "a" is not another region`},
		{map[string]any{"from": "a", "kind": "soon", "reason": "r"}, `kind: "soon": use planned or forced`},
	} {
		if code, body := call(t, st, follower, tok, "POST", "/v1/failovers", tc.req, nil); code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%v: %d %s, want 400 with %q", tc.req, code, body, tc.want)
		}
	}

	gw := st.Regions[1].GatewayURL()
	var users []int64
	for u := int64(1); len(users) < 30; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 512 { // cell a1
			users = append(users, u)
		}
	}
	ctx := context.Background()
	load := loadOf(t, gw, users, 60)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { load.Run(lctx) })
	time.Sleep(time.Second)
	var rep api.FailoverReport
	if code, body := call(t, st, follower, tok, "POST", "/v1/failovers", map[string]any{"from": "a", "kind": "planned", "reason": "maintenance"}, &rep); code != 200 {
		t.Fatalf("planned failover: %d %s", code, body)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	t.Logf("failover %s: %s in %d ms, write-forbidden %d ms", rep.ID, rep.State, rep.DurationMS, rep.WriteForbiddenMS)
	if rep.State != controller.FailoverDone || len(rep.Switches) != 1 || rep.Switches[0].Count != 512 || rep.RPO.LostCount != 0 {
		t.Fatalf("report: %+v", rep)
	}
	tb := table(t, st, tok)
	for b := 0; b < tb.Buckets; b++ {
		if o := tb.Owner(topo.Bucket(b)); o.Region != "b" {
			t.Fatalf("bucket %d after the failover: %+v", b, o)
		}
	}
	hist := load.History.Writes()
	res := ledger.Summarize(hist)
	lost, dup, err := ledger.Verify(ctx, st, hist, users, nil, time.Minute)
	if err != nil || lost.Violations != 0 || dup.Violations != 0 || res.ByRegion["a"] == 0 || res.ByRegion["b"] == 0 {
		t.Fatalf("load: %d acknowledged %v, lost %+v, duplicated %+v, %v", res.Acked, res.ByRegion, lost, dup, err)
	}
	waitController(t, st, follower, tok, 10*time.Second, "the failover in the follower's replicated state", func(cs api.ControllerStatus) bool {
		f, ok := cs.State.Failovers[rep.ID]
		return ok && f.State == controller.FailoverDone && f.Kind == controller.KindPlanned && f.Actor == "lab-operator"
	})
	// The region failed over is read-only in MySQL too: a job writing a's
	// MySQL with the application's account is refused (error 1290), and
	// still is a few seconds later (a's regiond keeps it so).
	time.Sleep(2 * time.Second)
	if err := appWrite(t, st, "a"); !isReadOnly(err) {
		t.Fatalf("an application write on a's MySQL after the planned failover: %v, want error 1290 (read-only)", err)
	}
	if s, err := status(t, st, "a"); err != nil || !strings.HasPrefix(s.MySQLReadOnly, "on: region a was failed over to b by "+rep.ID) {
		t.Errorf("a's status says MySQL read-only %q (%v)", s.MySQLReadOnly, err)
	}
	if err := appWrite(t, st, "b"); err != nil {
		t.Fatalf("an application write on b's MySQL: %v", err)
	}
}

// appWrite writes a rates row on region's MySQL with the application's
// account (lab.AppUser), as a job that bypasses the gateway does, and
// removes it.
func appWrite(t *testing.T, st *lab.State, region string) error {
	t.Helper()
	r, _ := st.Region(region)
	db, err := lab.OpenAppMySQL(r.MySQLPort, "lending")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("t%d", time.Now().UnixNano()%1e9)
	if _, err := db.Exec("INSERT INTO rates (name, rate_bp, region) VALUES (?, 1, ?)", name, region); err != nil {
		return err
	}
	_, err = db.Exec("DELETE FROM rates WHERE name = ?", name)
	return err
}

// isReadOnly reports MySQL's error 1290: the server is read-only.
func isReadOnly(err error) bool { return err != nil && strings.Contains(err.Error(), "Error 1290") }

// TestForcedFailoverAndFailback: region a is lost under load (its broker
// first, so its last writes never leave it, then everything); a forced
// failover through b fences a and moves its buckets to b at once, with
// the RPO pending while a's binlog is unreadable; writes of a's users go
// to b; a returns, a failback catches it up, lifts the fence and moves
// its buckets back; every acknowledged write ends in both regions once.
func TestForcedFailoverAndFailback(t *testing.T) {
	st, tok := ledgerLab(t, lab.Options{})
	ctx := context.Background()
	gw := st.Regions[1].GatewayURL()
	var users []int64
	for u := int64(1); len(users) < 20; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 512 { // cell a1
			users = append(users, u)
		}
	}
	load := loadOf(t, gw, users, 40)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { load.Run(lctx) })
	time.Sleep(time.Second)
	if err := lab.Kill(ctx, st.Dir, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // writes a acknowledges but cannot ship
	if err := lab.Kill(ctx, st.Dir, "a", "all"); err != nil {
		t.Fatal(err)
	}
	var rep api.FailoverReport
	if code, body := call(t, st, "b", tok, "POST", "/v1/failovers", map[string]any{"from": "a", "kind": "forced", "reason": "region a lost"}, &rep); code != 200 {
		t.Fatalf("forced failover: %d %s", code, body)
	}
	t.Logf("forced failover %s: %s in %d ms, RPO %+v", rep.ID, rep.State, rep.DurationMS, rep.RPO)
	if rep.State != controller.FailoverDone || !rep.RPO.Pending || rep.RPO.LastAppliedGTID == "" {
		t.Fatalf("forced failover report: %+v", rep)
	}
	tb := tableFrom(t, st, "b", tok)
	if r, _ := tb.Region("a"); !r.Fenced {
		t.Fatalf("region a is not fenced in the routing table: %+v", tb.Regions)
	}
	single := []ledger.Write{write(t, gw, users[0])}
	if w := single[0]; w.Outcome != ledger.Acked || w.Region != "b" {
		t.Fatalf("a write of a's user after the failover: %s served by %q, want acked by b", w.Outcome, w.Region)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	// Too early for a failback: a's RPO is pending (its binlog unread).
	if code, body := call(t, st, "b", tok, "POST", "/v1/failbacks", map[string]any{"to": "a", "reason": "too early"}, nil); code != 503 || !strings.Contains(body, "is still pending") {
		t.Fatalf("failback while the RPO is pending: %d %s, want 503", code, body)
	}

	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "a", "all"); err != nil {
		t.Fatal(err)
	}
	// a's MySQL comes back read-only (its regiond keeps it so: the
	// controller says a is fenced): an application's write there, which
	// would be lost or overwritten at the failback, is refused.
	if err := appWrite(t, st, "a"); !isReadOnly(err) {
		t.Fatalf("an application write on a's MySQL after it came back: %v, want error 1290 (read-only)", err)
	}
	// With a's binlog readable again the controller completes the RPO:
	// the writes a acknowledged after its broker died never reached b.
	cs := waitController(t, st, "b", tok, 30*time.Second, "the RPO completed", func(cs api.ControllerStatus) bool {
		return !cs.State.Failovers[rep.ID].RPO.Pending
	})
	if err := appWrite(t, st, "a"); !isReadOnly(err) {
		t.Fatalf("an application write on a's MySQL with its regiond up again: %v, want error 1290 (read-only)", err)
	}
	// An operator's write on a (root: read_only does not stop it) after
	// the RPO was computed: the failback must discard and report it, not
	// converge it away in a and then apply it in b.
	mustExec(t, openDB(t, st, "a", "lending"), "INSERT INTO rates (name, rate_bp, region) VALUES ('late', 1, 'a')")
	rpo := cs.State.Failovers[rep.ID].RPO
	t.Logf("RPO of %s: %d transactions lost after %s: %s", rep.ID, rpo.LostCount, rpo.LastAppliedGTID, rpo.LostGTIDs)
	if rpo.LostCount == 0 || rpo.LostGTIDs == "" {
		t.Fatalf("a acknowledged writes its broker never shipped, but the RPO says %+v", rpo)
	}
	if len(rpo.Changes) == 0 || !strings.Contains(rpo.Changes[0], "lending.") {
		t.Errorf("the RPO names no diverged row: %q", rpo.Changes)
	}
	var back api.FailoverReport
	if code, body := call(t, st, "b", tok, "POST", "/v1/failbacks", map[string]any{"to": "a", "reason": "region a repaired"}, &back); code != 200 {
		t.Fatalf("failback: %d %s", code, body)
	}
	t.Logf("failback %s: %s in %d ms, write-forbidden %d ms", back.ID, back.State, back.DurationMS, back.WriteForbiddenMS)
	steps := waitController(t, st, "b", tok, 10*time.Second, "the failback recorded", func(cs api.ControllerStatus) bool {
		return cs.State.Failovers[back.ID].State == controller.FailoverDone
	}).State.Failovers[back.ID].Steps
	if div := stepDetail(steps, "divergence"); !strings.Contains(div, "rows that diverged") || !strings.Contains(div, rpo.Changes[0]) {
		t.Errorf("the failback's divergence step does not list the rows: %q", div)
	}
	tb = table(t, st, tok)
	if r, _ := tb.Region("a"); r.Fenced {
		t.Fatalf("region a still fenced after the failback")
	}
	for b := 0; b < 512; b++ {
		if o := tb.Owner(topo.Bucket(b)); o.Cell != "a1" || o.State != "serving" {
			t.Fatalf("bucket %d after the failback: %+v", b, o)
		}
	}
	single = append(single, write(t, gw, users[0]))
	if w := single[1]; w.Outcome != ledger.Acked || w.Region != "a" {
		t.Fatalf("a write of a's user after the failback: %s served by %q, want acked by a", w.Outcome, w.Region)
	}
	if err := appWrite(t, st, "a"); err != nil {
		t.Fatalf("an application write on a's MySQL after the failback: %v", err)
	}
	if d := stepDetail(steps, "late writes"); !strings.Contains(d, "1 transactions committed in a after its RPO was computed") || !strings.Contains(d, "lending.rates name=late") {
		t.Errorf("the failback's late writes step: %q", d)
	}
	if d := stepDetail(steps, "writable"); !strings.Contains(d, "read_only=OFF") {
		t.Errorf("the failback's writable step: %q", d)
	}
	if conv := stepDetail(steps, "converge"); !strings.Contains(conv, "rows of a set to b's") {
		t.Errorf("the failback's converge step: %q", conv)
	}
	// The RPO stays lost, exactly: the acknowledged writes missing are
	// among the lost transactions (a lost one may also be a write whose
	// answer never reached the client), none is applied late over b's
	// newer writes, and both regions hold the same rows.
	hist := append(load.History.Writes(), single...)
	res := ledger.Summarize(hist)
	lostC, dupC, err := ledger.Verify(ctx, st, hist, users, nil, 2*time.Minute)
	lost, dup := lostC.Violations, dupC.Violations
	t.Logf("load: %d acknowledged %v, %d failed (outcome unknown), lost %d (RPO %d), duplicated %d", res.Acked, res.ByRegion, res.Failed, lost, rpo.LostCount, dup)
	if err != nil || dup != 0 || int64(lost) > rpo.LostCount || rpo.LostCount > int64(lost+res.Failed) {
		t.Fatalf("after the failback: lost %+v (the RPO says %d, %d outcomes unknown), duplicated %+v, %v", lostC, rpo.LostCount, res.Failed, dupC, err)
	}
	// Exactly: every missing acknowledged write is among the lost GTIDs.
	if exact, _, err := ledger.Verify(ctx, st, hist, users, []string{rpo.LostGTIDs}, time.Minute); err != nil || exact.Violations != 0 || exact.Explained != lost {
		t.Errorf("the RPO's GTIDs do not explain the missing writes exactly: %+v %v", exact, err)
	}
	labapi.Converged(t, st, 60*time.Second)
	sameTables(t, st, slices.Concat([]string{"lending.users", "lending.loan_accounts", "lending.ledger_entries"}, lab.LedgerTables)...)
}

// TestAutomaticFailover: with controller.auto_failover on, killing every
// process of region a makes the controller declare it failed (a majority
// of the other observers, b and the witness, lost it and its MySQL) and
// fail it over by itself; a's users can write again through b. The time
// from the kill to the first write b accepts for them is the RTO.
func TestAutomaticFailover(t *testing.T) {
	st, tok := ledgerLab(t, lab.Options{AutoFailover: true})
	ctx := context.Background()
	gw := st.Regions[1].GatewayURL()
	var user int64
	for u := int64(1); ; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 512 { // cell a1
			user = u
			break
		}
	}
	loadOf(t, gw, []int64{user}, 1)
	labapi.Converged(t, st, 60*time.Second) // the user's ledger is in b too: not part of the RPO
	kill := time.Now()
	if err := lab.Kill(ctx, st.Dir, "a", "all"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		w := write(t, gw, user)
		if w.Outcome == ledger.Acked && w.Region == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's user cannot write 30s after a was killed (last answer %s from %q: %s)", w.Outcome, w.Region, w.Err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rto := time.Since(kill)
	cs := waitController(t, st, "b", tok, 10*time.Second, "the automatic failover recorded", func(cs api.ControllerStatus) bool {
		for _, f := range cs.State.Failovers {
			if f.From == "a" && f.Kind == controller.KindForced && f.Actor == "controller" && f.State == controller.FailoverDone {
				return true
			}
		}
		return false
	})
	for _, f := range cs.State.Failovers {
		t.Logf("region a killed; failover %s started %s after the kill (detection), a's users write in b %s after it (RTO); RPO %+v",
			f.ID, f.StartedAt.Sub(kill).Round(time.Millisecond), rto.Round(time.Millisecond), f.RPO)
	}
	if r := cs.State.Regions["a"]; !r.Fenced {
		t.Fatalf("region a is not fenced after its automatic failover: %+v", r)
	}
}

// stepDetail is the detail of the first step named name.
func stepDetail(steps []controller.FailoverStep, name string) string {
	for _, s := range steps {
		if s.Name == name {
			return s.Detail
		}
	}
	return ""
}
