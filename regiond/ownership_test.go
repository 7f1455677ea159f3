package regiond_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// TestOwnershipViolations: a job writes region a's MySQL directly, without
// a guard: a loan of a user a owns, and one of a user b owns. b's applier
// logs the second as an ownership violation (with the rows, counted in
// metrics) and applies it by the table's policy all the same; the first,
// and a loan opened through a's app (its guard stamps the transaction),
// are no violation.
func TestOwnershipViolations(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a", "lending"), openDB(t, st, "b", "lending")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)
	var homeA, homeB, viaApp int64
	for u := int64(1); homeA == 0 || homeB == 0 || viaApp == 0; u++ {
		switch {
		case st.HomeRegion(u) == 0 && homeA == 0:
			homeA = u
		case st.HomeRegion(u) == 0 && viaApp == 0:
			viaApp = u
		case st.HomeRegion(u) == 1 && homeB == 0:
			homeB = u
		}
	}
	mustExec(t, a, fmt.Sprintf("INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status) VALUES (1, %d, 100, 100, 'open'), (2, %d, 100, 100, 'open')", homeA, homeB))
	appA := st.Regions[0].AppURL()
	resp, err := http.Post(fmt.Sprintf("%s/users/%d/loans", appA, viaApp), "application/json", strings.NewReader(`{"principal_cents": 500}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("a loan through a's app: %d", resp.StatusCode)
	}
	labapi.Converged(t, st, 30*time.Second)
	sameTables(t, st, "lending.loan_accounts", "lending.users")

	rows, err := b.Query("SELECT source, epoch, tbl, pk, reason, incoming_after IS NOT NULL FROM _region.violations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var src, tbl, pk, reason string
		var epoch uint64
		var after bool
		if err := rows.Scan(&src, &epoch, &tbl, &pk, &reason, &after); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %s %s %v: %s", src, epoch, tbl, pk, after, reason))
	}
	want := "a 0 loan_accounts id=2 true: written without a guard's stamp"
	if len(got) != 1 || !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], "in region b") {
		t.Fatalf("b's violations: %q, want one: %s ... in region b", got, want)
	}
	if m := grepLines(metrics(t, st, "b"), "regiond_apply_ownership_violations_total{"); !strings.HasSuffix(m, " 1") {
		t.Errorf("b's violation metric: %q, want 1", m)
	}
	if s, err := status(t, st, "b"); err != nil || len(s.Links) != 1 || s.Links[0].Violations != 1 {
		t.Errorf("b's status: %+v (%v), want the link with 1 violation", s, err)
	}
	var n int
	a.QueryRow("SELECT COUNT(*) FROM _region.violations").Scan(&n)
	if n != 0 {
		t.Errorf("a logged %d violations, want none", n)
	}
}
