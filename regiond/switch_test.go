package regiond_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// call sends a JSON body (nil for GET) to a region's API and decodes a
// JSON answer into v when v is not nil.
func call(t *testing.T, st *lab.State, region, token, method, path string, body, v any) (int, string) {
	t.Helper()
	r, _ := st.Region(region)
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", r.APIPort, path), rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		var e api.ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return resp.StatusCode, e.Error + " (" + e.Hint + ")"
		}
		return resp.StatusCode, string(b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// waitSwitch polls a switch until it is no longer running.
func waitSwitch(t *testing.T, st *lab.State, region, token, id string) traffic.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var rec traffic.Record
		if code, body := call(t, st, region, token, "GET", "/v1/switches/"+id, nil, &rec); code != 200 {
			t.Fatalf("switch %s: %d %s", id, code, body)
		}
		if rec.State != traffic.Running {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("switch %s still running after 60s: %+v", id, rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func table(t *testing.T, st *lab.State, token string) *router.Table {
	t.Helper()
	return tableFrom(t, st, "a", token)
}

// tableFrom reads the routing table through region's regiond.
func tableFrom(t *testing.T, st *lab.State, region, token string) *router.Table {
	t.Helper()
	var a api.RoutesAnswer
	if code, body := call(t, st, region, token, "GET", "/v1/routes", nil, &a); code != 200 {
		t.Fatalf("routes: %d %s", code, body)
	}
	return a.Table
}

// TestSwitchThroughTheAPI: bad requests are refused naming the field and
// change nothing; overlapping switches started at once: one runs, one is
// refused; the switch fences, waits, flips and records its window;
// a rollback restores the old placement.
func TestSwitchThroughTheAPI(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	tok, _ := lab.ReadToken(st.Dir)
	viewer := readFile(t, filepath.Join(st.Dir, lab.ViewerTokenFile))
	createSchema(t, st, "a")
	labapi.Converged(t, st, 60*time.Second)
	before := table(t, st, tok)

	for _, tc := range []struct {
		body any
		code int
		want string
	}{
		{map[string]any{"buckets": "0-9", "to": "b1"}, 400, "reason: missing"},
		{map[string]any{"buckets": "0-9", "to": "zz", "reason": "x"}, 400, `to: cell "zz" does not exist: use one of a1, b1`},
		{map[string]any{"buckets": "0-5000", "to": "b1", "reason": "x"}, 400, "bucket 5000 is out of range"},
		{map[string]any{"buckets": "9-3", "to": "b1", "reason": "x"}, 400, "range end is below its start"},
		{map[string]any{"buckets": "0-9,5", "to": "b1", "reason": "x"}, 400, "bucket 5 is listed twice"},
		{map[string]any{"buckets": "600-610", "to": "b1", "reason": "x"}, 400, "already in cell b1: nothing to move"},
		{map[string]any{"buckets": "0-9", "to": "b1", "reason": "x", "stages": []int{10, 5, 100}}, 400, "stages: [10 5 100]"},
		{map[string]any{"buckets": "0-9", "to": "b1", "reason": "x", "stages": []int{1, 10}}, 400, "the last stage must be 100"},
		{map[string]any{"buckets": "0-9", "to": "b1", "reason": "x", "cell": "b1"}, 400, `unknown field "cell"`},
	} {
		code, body := call(t, st, "a", tok, "POST", "/v1/switches", tc.body, nil)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%v: got %d %s, want %d with %q", tc.body, code, body, tc.code, tc.want)
		}
	}
	if code, body := call(t, st, "a", viewer, "POST", "/v1/switches", map[string]any{"buckets": "0-9", "to": "b1", "reason": "x"}, nil); code != 403 {
		t.Errorf("viewer started a switch: %d %s", code, body)
	}
	if after := table(t, st, tok); after.Epoch != before.Epoch {
		t.Fatalf("refused requests changed the table: epoch %d -> %d", before.Epoch, after.Epoch)
	}

	var plan traffic.Plan
	if code, body := call(t, st, "b", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-63", "to": "b1", "reason": "x", "dry_run": true}, &plan); code != 200 {
		t.Fatalf("dry run: %d %s", code, body)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].Cell != "a1" || plan.Moves[0].Count != 64 || len(plan.Links) != 1 || plan.Links[0].From != "a" {
		t.Fatalf("dry run plan: %+v", plan)
	}

	// Two overlapping switches at once, through both regions.
	var wg sync.WaitGroup
	codes, bodies := make([]int, 2), make([]string, 2)
	var recs [2]traffic.Record
	for i, req := range []map[string]any{
		{"buckets": "0-63", "to": "b1", "reason": "move early users", "stages": []int{10, 100}},
		{"buckets": "32-95", "to": "b1", "reason": "overlapping"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = call(t, st, []string{"a", "b"}[i], tok, "POST", "/v1/switches", req, &recs[i])
		}()
	}
	wg.Wait()
	won := -1
	for i := range codes {
		switch {
		case codes[i] == 202 && won < 0:
			won = i
		case codes[i] == 400 && strings.Contains(bodies[i], "is being moved by switch"):
		default:
			t.Fatalf("overlapping switches: %v %v", codes, bodies)
		}
	}
	if won < 0 {
		t.Fatalf("neither overlapping switch started: %v", bodies)
	}
	rec := waitSwitch(t, st, "a", tok, recs[won].ID)
	if rec.State != traffic.Done || rec.WriteForbiddenMS <= 0 || rec.Actor != "lab-operator" {
		t.Fatalf("switch ended %s (%s), window %d ms, actor %s", rec.State, rec.Error, rec.WriteForbiddenMS, rec.Actor)
	}
	for _, s := range rec.Steps {
		t.Logf("stage %d %s ok=%v %dms %s", s.Stage, s.Name, s.OK, s.End.Sub(s.Start).Milliseconds(), s.Detail)
	}
	after := table(t, st, tok)
	first := 0
	if won == 1 {
		first = 32
	}
	for b := first; b < first+64; b++ {
		if o := after.Owner(topoBucket(b)); o.Cell != "b1" || o.State != router.Serving {
			t.Fatalf("bucket %d after the switch: %+v", b, o)
		}
	}
	var ans api.RouteAnswer
	user := userInBucket(t, after, first)
	call(t, st, "a", tok, "GET", "/v1/route?user="+user, nil, &ans)
	if ans.Cell != "b1" || ans.Region != "b" || ans.Epoch != after.Epoch {
		t.Fatalf("route of user %s: %+v", user, ans)
	}
	if !strings.Contains(readFile(t, filepath.Join(st.Dir, "a", "regiond", "audit.log"))+readFile(t, filepath.Join(st.Dir, "b", "regiond", "audit.log")), `"action":"switch.start"`) {
		t.Error("the audit logs do not record the switch")
	}
	var sw api.SwitchesAnswer
	call(t, st, "b", tok, "GET", "/v1/switches", nil, &sw)
	if len(sw.Active) != 0 || len(sw.History) == 0 || sw.History[0].ID != rec.ID {
		t.Fatalf("switch list: %+v", sw)
	}

	// Roll back to the first table.
	var rolled router.Table
	if code, body := call(t, st, "a", tok, "POST", "/v1/routes/rollback", map[string]any{"to_epoch": 1, "reason": "undo"}, &rolled); code != 200 {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if o := rolled.Owner(topoBucket(first)); o.Cell != "a1" || rolled.Change.From != 1 {
		t.Fatalf("after rollback bucket %d: %+v (change %+v)", first, o, rolled.Change)
	}
}

// TestSwitchGuardsLeaveTheOldOwnerServing: with the target's regiond down
// the switch refuses and changes nothing; with a router that does not
// apply the fence (its regiond frozen), the switch aborts and lifts the
// fence, and an operator's abort is recorded.
func TestSwitchGuardsLeaveTheOldOwnerServing(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	tok, _ := lab.ReadToken(st.Dir)
	labapi.Converged(t, st, 60*time.Second)

	restartRegiond(t, st, false, "b")
	before := table(t, st, tok)
	code, body := call(t, st, "a", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-9", "to": "b1", "reason": "b is down"}, nil)
	if code != 409 || !strings.Contains(body, "guard: link a->b") {
		t.Fatalf("switch with b down: %d %s", code, body)
	}
	if after := table(t, st, tok); after.Epoch != before.Epoch {
		t.Fatalf("a refused switch changed the table: epoch %d -> %d", before.Epoch, after.Epoch)
	}
	if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	labapi.Converged(t, st, 60*time.Second)

	// Freeze regiond a: its router holds its lease for seconds but cannot
	// apply the fence. The switch runs in b.
	ra, _ := st.Region("a")
	if err := syscall.Kill(ra.Regiond.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(ra.Regiond.Pid, syscall.SIGCONT) })
	var rec traffic.Record
	if code, body := call(t, st, "b", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-9", "to": "b1", "reason": "a frozen"}, &rec); code != 202 {
		t.Fatalf("switch: %d %s", code, body)
	}
	var aborted traffic.Record
	if code, body := call(t, st, "b", tok, "POST", "/v1/switches/"+rec.ID+"/abort", map[string]any{"reason": "operator gives up"}, &aborted); code != 200 {
		t.Fatalf("abort: %d %s", code, body)
	}
	if aborted.State != traffic.Aborted || !strings.Contains(aborted.AbortRequested, "aborted by lab-operator: operator gives up") {
		t.Fatalf("abort answered %+v", aborted)
	}
	if err := syscall.Kill(ra.Regiond.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// A second switch with a frozen router: the ack guard aborts it.
	if err := syscall.Kill(ra.Regiond.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, st, "b", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-9", "to": "b1", "reason": "a frozen again"}, &rec); code != 202 {
		t.Fatalf("switch: %d %s", code, body)
	}
	final := waitSwitch(t, st, "b", tok, rec.ID)
	_ = syscall.Kill(ra.Regiond.Pid, syscall.SIGCONT)
	if final.State != traffic.Aborted || !strings.Contains(final.Error, "regiond-a") || !strings.Contains(final.Error, "router.ack_timeout") {
		t.Fatalf("switch with a frozen router ended %s: %s", final.State, final.Error)
	}
	if final.WriteForbiddenMS <= 0 {
		t.Errorf("the aborted switch recorded no write-forbidden window")
	}
	var a api.RoutesAnswer
	call(t, st, "b", tok, "GET", "/v1/routes", nil, &a)
	for b := 0; b <= 9; b++ {
		if o := a.Table.Owner(topoBucket(b)); o.Cell != "a1" || o.State != router.Serving {
			t.Fatalf("bucket %d after the aborted switches: %+v", b, o)
		}
	}
}

func topoBucket(b int) topo.Bucket { return topo.Bucket(b) }

// userInBucket finds a user id whose bucket is b.
func userInBucket(t *testing.T, tb *router.Table, b int) string {
	t.Helper()
	for u := 1; u < 1_000_000; u++ {
		s := strconv.Itoa(u)
		if int(topo.BucketOfString(s, tb.Buckets)) == b {
			return s
		}
	}
	t.Fatalf("no user in bucket %d", b)
	return ""
}

// TestCaptureHeartbeatsRightAfterABatchWhileASwitchWaits: while the
// routing table holds buckets write-forbidden for a switch, capture
// follows every batch at once with heartbeats to the partitions it moved
// (so the switch's wait for replication does not wait for the heartbeat
// interval); without a fence it does not.
func TestCaptureHeartbeatsRightAfterABatchWhileASwitchWaits(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)
	ctx := context.Background()
	db := openDB(t, st, "a", "")
	sent := func() int {
		t.Helper()
		m := regexp.MustCompile(`(?m)^regiond_capture_switch_heartbeats_total(?:\{[^}]*\})? (\d+)`).FindStringSubmatch(metrics(t, st, "a"))
		if m == nil {
			t.Fatal("a's metrics have no regiond_capture_switch_heartbeats_total")
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	// A job writing MySQL directly, as a lender's batch does: single
	// users, and one transaction that opens two users and a loan.
	write := func(first int) {
		t.Helper()
		for id := first; id < first+4; id++ {
			if _, err := db.ExecContext(ctx, "INSERT INTO lending.users (id, name, home_cell) VALUES (?, 'h', 'a1')", id); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"INSERT INTO lending.users (id, name, home_cell) VALUES (?, 'borrower', 'a1'), (? + 1, 'guarantor', 'a1')",
			"INSERT INTO lending.loan_accounts (user_id, principal_cents, balance_cents, status) VALUES (?, 50000, 50000, 'open')"} {
			args := []any{first + 10}
			if strings.Count(q, "?") == 2 {
				args = append(args, first+10)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		labapi.Converged(t, st, 30*time.Second)
	}
	write(900001)
	if n := sent(); n != 0 {
		t.Fatalf("%d switch heartbeats without a switch, want 0", n)
	}
	release := holdFence(t, st, topo.Range{First: 0, Last: 7})
	write(900101)
	if n := sent(); n == 0 {
		t.Fatal("no switch heartbeat after 5 transactions while buckets 0-7 were write-forbidden")
	}
	release()
}
