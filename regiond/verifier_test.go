package regiond_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/verify"
)

// TestDriftShowsInStatusAndMetrics: a one-row drift that replication
// cannot see (written in b with sql_log_bin=0) shows, with the row named,
// in every region's status and metrics after the next continuous
// verification pass (every 10 s here), with no one asking.
func TestDriftShowsInStatusAndMetrics(t *testing.T) {
	st := labtest.UpWith(t, lab.Options{VerifyEvery: 10 * time.Second}, "a", "b")
	a, b := openDB(t, st, "a", ""), openDB(t, st, "b", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
		"INSERT INTO lending.loans SELECT seq, seq % 50, seq * 100 FROM lending.seq_1_to_3000")
	labapi.Converged(t, st, time.Minute)

	unlogged(t, b, "UPDATE lending.loans SET amount_cents = 1 WHERE id = 1234")
	t0 := time.Now()
	for _, r := range []string{"a", "b"} {
		p := waitPass(t, st, r, 2*time.Minute, "the drift", func(p *verify.Pass) bool { return p.DifferingRows > 0 && p.Rows >= 3000 })
		if p.DifferingRows != 1 || len(p.Errors) > 0 {
			t.Errorf("region %s: the pass found %d differing rows and errors %v, want exactly the one row", r, p.DifferingRows, p.Errors)
		}
		// The leader's region is the reference: the row differs between it
		// and the other one.
		if len(p.Diffs) != 1 || p.Diffs[0].Table != "lending.loans" || p.Diffs[0].Key != "id=1234" || p.Diffs[0].Kind != verify.Different ||
			p.Reference == p.Diffs[0].Region || (p.Reference != "a" && p.Reference != "b") || (p.Diffs[0].Region != "a" && p.Diffs[0].Region != "b") {
			t.Errorf("region %s's status names %+v (reference %s), want lending.loans id=1234 different between a and b", r, p.Diffs, p.Reference)
		}
		if m := metrics(t, st, r); !strings.Contains(m, "regiond_verify_differing_rows 1\n") {
			t.Errorf("region %s's metrics do not count the drift:\n%s", r, grepLines(m, "regiond_verify_"))
		}
	}
	t.Logf("drift shown %s after it was written", time.Since(t0).Round(time.Second))
}

// waitPass waits until region's status reports a verification pass that
// satisfies ok, and returns it.
func waitPass(t *testing.T, st *lab.State, region string, timeout time.Duration, what string, ok func(*verify.Pass) bool) *verify.Pass {
	t.Helper()
	var last *verify.Pass
	err := lab.WaitUntil(context.Background(), timeout, func() bool {
		s, err := status(t, st, region)
		if err != nil || s.Verify == nil {
			return false
		}
		last = s.Verify
		return ok(last)
	})
	if err != nil {
		t.Fatalf("region %s: no verification pass with %s within %s; last %+v", region, what, timeout, last)
	}
	return last
}

func metrics(t *testing.T, st *lab.State, region string) string {
	t.Helper()
	r, _ := st.Region(region)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.APIPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
