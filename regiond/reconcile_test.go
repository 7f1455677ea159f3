package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/topo"
)

// TestForcedFailoverReconcilesEveryRegion: in three regions, a is lost
// while b and c each lack one of its last transactions (each one is held
// on a row lock in one region until that region's regiond dies): b
// applied T_Y, c applied T_X (two users' notes and the global promo
// rate, in one transaction). A forced failover moves a's buckets to b.
// The RPO names what each survivor lacked, and the failback reconciles c
// with b: T_X's rows in c become b's (c alone had them), and T_Y, which
// c never applied, is discarded there too: applied when a's stream is
// released, it would overwrite the newer write b made after taking the
// user over. All three regions end identical.
func TestForcedFailoverReconcilesEveryRegion(t *testing.T) {
	st := labtest.Up(t, "a", "b", "c")
	tok, _ := lab.ReadToken(st.Dir)
	ctx := context.Background()
	dbs := map[string]*sql.DB{}
	for _, r := range []string{"a", "b", "c"} {
		dbs[r] = openDB(t, st, r, "lending")
	}
	// Two users of a's whose transactions go to different partitions.
	part := func(u int64) int32 {
		b := topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets)
		return capture.Partition(strconv.Itoa(int(b)), st.PartitionCount())
	}
	var users []int64
	for u := int64(1); len(users) < 2; u++ {
		if st.HomeRegion(u) == 0 && (len(users) == 0 || part(u) != part(users[0])) {
			users = append(users, u)
		}
	}
	createLedger(t, st)
	mustExec(t, dbs["a"], fmt.Sprintf("INSERT INTO user_notes (id, user_id, region, guarded) VALUES ('n1', %d, 'a', 0), ('n2', %d, 'a', 0)", users[0], users[1]))
	labapi.Converged(t, st, time.Minute)

	// c holds n1 and b holds n2 locked (a reporting job): c cannot apply
	// T_Y, b cannot apply T_X, and each applies the other.
	releaseC := holdRows(t, dbs["c"], "SELECT * FROM user_notes WHERE id = 'n1' FOR UPDATE", time.Minute)
	releaseB := holdRows(t, dbs["b"], "SELECT * FROM user_notes WHERE id = 'n2' FOR UPDATE", time.Minute)
	inTxn(t, dbs["a"], "UPDATE user_notes SET region = 'T_Y' WHERE id = 'n1'")
	// T_X is what a referral job writes: notes on two users (the second
	// one T_Y's user, another partition) and the global promo rate.
	inTxn(t, dbs["a"], "UPDATE user_notes SET region = 'T_X' WHERE id = 'n2'",
		fmt.Sprintf("INSERT INTO user_notes (id, user_id, region, guarded) VALUES ('n3', %d, 'T_X', 0)", users[0]),
		"UPDATE rates SET version = version + 1, rate_bp = 7, region = 'a' WHERE name = 'promo'")
	waitNote(t, dbs["b"], "n1", "T_Y")
	waitNote(t, dbs["c"], "n2", "T_X")
	// a is lost; b's and c's regiond die with the blocked transactions
	// (rolled back), and come back unable to fetch from a.
	for _, r := range []string{"a", "b", "c"} {
		proc := "regiond"
		if r == "a" {
			proc = "all"
		}
		if err := lab.Kill(ctx, st.Dir, r, proc); err != nil {
			t.Fatal(err)
		}
	}
	releaseB()
	releaseC()
	for _, r := range []string{"b", "c"} {
		if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
			t.Fatal(err)
		}
	}
	var rep api.FailoverReport
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := call(t, st, "b", tok, "POST", "/v1/failovers", map[string]any{"from": "a", "to": "b", "kind": "forced", "reason": "region a lost", "accept_rpo": true}, &rep)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) || code != 503 {
			t.Fatalf("forced failover: %d %s", code, body)
		}
		time.Sleep(time.Second) // the controller elects a leader again
	}
	t.Logf("forced failover %s: %s in %d ms", rep.ID, rep.State, rep.DurationMS)
	// b, which owns n1 now, changes it: c gets it, and T_Y must never
	// be applied over it.
	mustExec(t, dbs["b"], "UPDATE user_notes SET region = 'b-after' WHERE id = 'n1'")
	waitNote(t, dbs["c"], "n1", "b-after")

	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "a", "all"); err != nil {
		t.Fatal(err)
	}
	cs := waitController(t, st, "b", tok, time.Minute, "the RPO completed", func(cs api.ControllerStatus) bool {
		return !cs.State.Failovers[rep.ID].RPO.Pending
	})
	rpo := cs.State.Failovers[rep.ID].RPO
	t.Logf("drain: %s", stepDetail(cs.State.Failovers[rep.ID].Steps, "drain"))
	t.Logf("RPO: b lacks %d (%s), others %+v", rpo.LostCount, rpo.LostGTIDs, rpo.Others)
	if rpo.LostCount != 1 || rpo.Others["c"].LostCount != 1 || rpo.Others["c"].LostGTIDs == rpo.LostGTIDs {
		t.Fatalf("the RPO: b lacks %d (%s), c %+v; want one each, different", rpo.LostCount, rpo.LostGTIDs, rpo.Others["c"])
	}
	var back api.FailoverReport
	if code, body := call(t, st, "b", tok, "POST", "/v1/failbacks", map[string]any{"to": "a", "reason": "region a repaired"}, &back); code != 200 {
		t.Fatalf("failback: %d %s", code, body)
	}
	steps := waitController(t, st, "b", tok, 10*time.Second, "the failback recorded", func(cs api.ControllerStatus) bool {
		return cs.State.Failovers[back.ID].State == controller.FailoverDone
	}).State.Failovers[back.ID].Steps
	d := stepDetail(steps, "reconcile c")
	t.Logf("reconcile c: %s", d)
	if !strings.Contains(d, "2 transactions of the failed region were applied in only one of b and c; 3 of their rows in c set to b's") {
		t.Errorf("the failback's reconcile step: %q", d)
	}
	labapi.Converged(t, st, time.Minute)
	sameTables(t, st, "lending.user_notes", "lending.rates")
	var rate int
	dbs["c"].QueryRow("SELECT rate_bp FROM rates WHERE name = 'promo'").Scan(&rate)
	if rate == 7 {
		t.Errorf("c kept the promo rate of T_X, which b never applied")
	}
	for id, want := range map[string]string{"n1": "b-after", "n2": "a", "n3": ""} {
		var got string
		dbs["c"].QueryRow("SELECT region FROM user_notes WHERE id = ?", id).Scan(&got)
		if got != want {
			t.Errorf("note %s in c: %q, want %q", id, got, want)
		}
	}
}

// waitNote waits until note id holds region in db.
func waitNote(t *testing.T, db *sql.DB, id, region string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for got := ""; got != region; time.Sleep(100 * time.Millisecond) {
		db.QueryRow("SELECT region FROM user_notes WHERE id = ?", id).Scan(&got)
		if time.Now().After(deadline) {
			t.Fatalf("note %s is %q after 30s, want %q", id, got, region)
		}
	}
}
