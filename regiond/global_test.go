package regiond_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/guard"
)

// TestGlobalTableHome runs the lab app's product catalogue, a global
// table homed in a: a back-office transaction through a's guard writes
// two users' notes, a product, the catalogue's count, an audit row
// without a primary key and a savepoint rolled back, and b's guard
// refuses its like; b's app (its guard) refuses a product write; a's and
// b's gateways send keyless product writes to a, and refuse one carrying
// a user of b 409 naming a; a job's write straight into b's MySQL is
// logged by a's applier as a violation. Then writers add products
// through both gateways (retrying 503s with the same request id) while
// regionctl global move makes b the home: every acknowledged product is
// in a and b once, the catalogue counted each exactly once, rows were
// written by a before and b after, no other violation, and a's app now
// refuses while the gateways send writes to b. A planned failover of b
// takes the home to a and the failback brings it back.
func TestGlobalTableHome(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A back-office audit log without a primary key (conflict overwrite).
	st := labtest.UpWith(t, lab.Options{Tables: []config.Table{{Name: lab.SampleDatabase + ".audit_log", Conflict: config.ConflictOverwrite}}}, "a", "b")
	if err := ledger.CreateSchema(ctx, st, time.Minute); err != nil {
		t.Fatal(err)
	}
	a, b := openDB(t, st, "a", "lending"), openDB(t, st, "b", "lending")
	mustExec(t, a, "CREATE TABLE audit_log (at TIMESTAMP(6) NOT NULL, what VARCHAR(64) NOT NULL) ENGINE=InnoDB")
	gw := func(i int) string { return st.Regions[i].GatewayURL() }
	app := func(i int) string { return st.Regions[i].AppURL() }
	var userOfB int64
	var usersOfA []string
	for u := int64(1); userOfB == 0 || len(usersOfA) < 2; u++ {
		switch {
		case st.HomeRegion(u) == 1 && userOfB == 0:
			userOfB = u
		case st.HomeRegion(u) == 0 && len(usersOfA) < 2:
			usersOfA = append(usersOfA, fmt.Sprint(u))
		}
	}
	guardA := runGuard(t, st, guard.Config{ID: "office-a", Region: "a"})
	guardB := runGuard(t, st, guard.Config{ID: "office-b", Region: "b"})

	// Refusals and routing with home a.
	code, rep, hdr := postProduct(t, app(1), "", "direct-b")
	if code != http.StatusServiceUnavailable || !strings.Contains(rep.Error, "written in region a, its home") {
		t.Errorf("b's app: %d %+v, want 503 from its guard naming home a", code, rep)
	}
	for i := range 2 {
		if code, rep, _ = postProduct(t, gw(i), "", fmt.Sprintf("via-gw-%d", i)); code != http.StatusCreated || rep.Region != "a" {
			t.Errorf("a keyless product write through %s's gateway: %d %+v, want 201 from a", st.Regions[i].Name, code, rep)
		}
	}
	code, rep, hdr = postProduct(t, gw(1), fmt.Sprint(userOfB), "user-of-b")
	if code != http.StatusConflict || hdr.Get("X-Region-Home") != "a" || !strings.Contains(rep.Error, "whose home is region a") {
		t.Errorf("a product write of a user of b: %d %+v, want 409 naming home a", code, rep)
	}
	mustExec(t, b, "INSERT INTO products (code, rate_bp, region) VALUES ('job-b', 7, 'b')")
	labapi.Converged(t, st, 30*time.Second)
	if v := globalViolations(t, a); len(v) != 1 || !strings.Contains(v[0], "products code=job-b") || !strings.Contains(v[0], "home in region a") {
		t.Fatalf("a's violations: %q, want the job's write of products in b", v)
	}

	// A back-office transaction as a lending app writes it, through a's
	// guard: notes on two users, a product with the catalogue's count,
	// the audit log (no primary key), and a third note tried in a
	// savepoint and rolled back. b's guard refuses a transaction that
	// writes the catalogue with a user of b.
	office := func(g *guard.Guard, db *sql.DB, users []string, tag string) error {
		tx, err := g.BeginWrites(ctx, db, nil, guard.Writes{Users: users, Tables: []string{lab.ProductsTable}})
		if err != nil {
			return err
		}
		for i, q := range []string{
			fmt.Sprintf("INSERT INTO user_notes (id, user_id, region, guarded) VALUES ('%s-1', %s, 'a', 1), ('%s-2', %s, 'a', 1)", tag, users[0], tag, users[len(users)-1]),
			fmt.Sprintf("INSERT INTO products (code, rate_bp, region) VALUES ('%s', 300, 'a')", tag),
			"UPDATE products SET version = version + 1 WHERE code = '" + lab.CatalogueRow + "'",
			"SAVEPOINT extra",
			fmt.Sprintf("INSERT INTO user_notes (id, user_id, region, guarded) VALUES ('%s-3', %s, 'a', 1)", tag, users[0]),
			"ROLLBACK TO SAVEPOINT extra",
			"INSERT INTO audit_log VALUES (NOW(6), '" + tag + "')",
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				t.Fatalf("back-office statement %d: %v", i, err)
			}
		}
		return tx.Commit()
	}
	if err := office(guardA, a, usersOfA, "office-a"); err != nil {
		t.Fatalf("the back-office transaction in the catalogue's home: %v", err)
	}
	if err := office(guardB, b, []string{fmt.Sprint(userOfB)}, "office-b"); !errors.Is(err, guard.ErrNotOwner) {
		t.Errorf("the back-office transaction in b, home a: %v, want ErrNotOwner", err)
	}
	labapi.Converged(t, st, 30*time.Second)
	var notes, logged int
	b.QueryRow("SELECT COUNT(*) FROM user_notes WHERE id LIKE 'office-a-%'").Scan(&notes)
	b.QueryRow("SELECT COUNT(*) FROM audit_log WHERE what = 'office-a'").Scan(&logged)
	if notes != 2 || logged != 1 {
		t.Errorf("b holds %d of the back-office transaction's 2 notes (the savepoint's rolled back) and %d of its 1 audit row", notes, logged)
	}

	// The home moves to b under load.
	acked := writeProducts(t, ctx, gw, func() {
		out, err := regionctlIn(st, "global", "move", lab.ProductsTable, "--to", "b", "--reason", "test: move the catalogue")
		t.Logf("regionctl global move:\n%s", out)
		if err != nil {
			t.Errorf("global move: %v", err)
		}
	})
	labapi.Converged(t, st, 30*time.Second)
	sameTables(t, st, lab.ProductsTable)
	for name, db := range map[string]*sql.DB{"a": a, "b": b} {
		var missing, version, rows int
		for id := range acked {
			var n int
			db.QueryRow("SELECT COUNT(*) FROM products WHERE code = ?", id).Scan(&n)
			if n != 1 {
				missing++
			}
		}
		db.QueryRow("SELECT version FROM products WHERE code = '_catalogue'").Scan(&version)
		db.QueryRow("SELECT COUNT(*) FROM products WHERE code NOT IN ('_catalogue', 'job-b')").Scan(&rows) // office-a counted itself
		if missing > 0 || version != rows+1 {
			t.Errorf("region %s: %d of %d acknowledged products missing; catalogue version %d for %d products (want products + 1: each counted once)", name, missing, len(acked), version, rows)
		}
	}
	var byA, byB int
	a.QueryRow("SELECT COUNT(*) FROM products WHERE code LIKE 'w-%' AND region = 'a'").Scan(&byA)
	a.QueryRow("SELECT COUNT(*) FROM products WHERE code LIKE 'w-%' AND region = 'b'").Scan(&byB)
	if byA == 0 || byB == 0 {
		t.Errorf("products written by a %d, by b %d: the move did not happen under load", byA, byB)
	}
	t.Logf("%d products acknowledged: %d written in a before the move, %d in b after", len(acked), byA, byB)
	if v := globalViolations(t, a); len(v) != 1 {
		t.Errorf("a's violations after the move: %q, want only the job's", v)
	}
	if v := globalViolations(t, b); len(v) != 0 {
		t.Errorf("b's violations after the move: %q, want none", v)
	}
	if code, rep, _ = postProduct(t, gw(0), "", "after-move"); code != http.StatusCreated || rep.Region != "b" {
		t.Errorf("a keyless product write through a's gateway after the move: %d %+v, want 201 from b", code, rep)
	}
	if code, rep, _ = postProduct(t, app(0), "", "direct-a"); code != http.StatusServiceUnavailable || !strings.Contains(rep.Error, "written in region b, its home") {
		t.Errorf("a's app after the move: %d %+v, want 503 naming home b", code, rep)
	}
	if err := office(guardA, a, usersOfA, "office-a2"); !errors.Is(err, guard.ErrNotOwner) {
		t.Errorf("the back-office transaction in a after the home moved to b: %v, want ErrNotOwner", err)
	}
	if h := productsHome(t, st); h != "b" {
		t.Errorf("global list: home %q, want b", h)
	}

	// A planned failover of b takes the catalogue's home to a with b's
	// buckets; the failback brings both back.
	if out, err := regionctlIn(st, "failover", "--from", "b", "--to", "a", "--planned", "--reason", "test: maintenance of b"); err != nil {
		t.Fatalf("planned failover of b: %v\n%s", err, out)
	}
	if h := productsHome(t, st); h != "a" {
		t.Errorf("after the planned failover of b the catalogue's home is %q, want a", h)
	}
	if code, rep, _ = postProduct(t, gw(1), "", "during-failover"); code != http.StatusCreated || rep.Region != "a" {
		t.Errorf("a product write while b is failed over: %d %+v, want 201 from a", code, rep)
	}
	if out, err := regionctlIn(st, "failback", "--to", "b", "--reason", "test: b is back"); err != nil {
		t.Fatalf("failback of b: %v\n%s", err, out)
	}
	if h := productsHome(t, st); h != "b" {
		t.Errorf("after the failback of b the catalogue's home is %q, want b", h)
	}
	labapi.Converged(t, st, 30*time.Second)
	sameTables(t, st, lab.ProductsTable)
	if v := globalViolations(t, a); len(v) != 1 {
		t.Errorf("a's violations after the failover and failback: %q, want only the job's", v)
	}
}

// productsHome is the catalogue's home as regionctl global list says.
func productsHome(t *testing.T, st *lab.State) string {
	t.Helper()
	out, err := regionctlIn(st, "global", "list", "--json")
	if err != nil {
		t.Fatalf("global list: %v\n%s", err, out)
	}
	var gs []router.Global
	if err := json.Unmarshal([]byte(out), &gs); err != nil {
		t.Fatalf("global list --json: %v\n%s", err, out)
	}
	for _, g := range gs {
		if g.Table == lab.ProductsTable {
			return g.Home
		}
	}
	return ""
}

// writeProducts adds products through the gateways of a and b, four
// writers, until during has returned and a second more has passed (at
// most a minute), retrying a 503 or an unanswered request with the same
// request id; it returns the acknowledged ids.
func writeProducts(t *testing.T, ctx context.Context, gw func(int) string, during func()) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				id := fmt.Sprintf("w-%d-%d", w, n)
				for try := 0; try < 200 && ctx.Err() == nil; try++ {
					code, rep, _ := postProductCtx(ctx, gw(w%2), "", id)
					if code == http.StatusCreated || code == http.StatusOK && rep.Duplicate {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
						break
					}
					if code != http.StatusServiceUnavailable && code != 0 {
						t.Errorf("product %s: %d %+v", id, code, rep)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	during()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	return acked
}

func postProduct(t *testing.T, base, user, id string) (int, lab.ProductReply, http.Header) {
	t.Helper()
	code, rep, h := postProductCtx(context.Background(), base, user, id)
	if code == 0 {
		t.Fatalf("POST %s/products: no answer", base)
	}
	return code, rep, h
}

// postProductCtx posts one product; code 0: no answer.
func postProductCtx(ctx context.Context, base, user, id string) (int, lab.ProductReply, http.Header) {
	body, _ := json.Marshal(lab.ProductRequest{RequestID: id, RateBP: 250})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/products", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("X-User-Id", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, lab.ProductReply{}, nil
	}
	defer resp.Body.Close()
	var rep lab.ProductReply
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &rep)
	if rep.Error == "" && resp.StatusCode >= 400 {
		rep.Error = string(b)
	}
	return resp.StatusCode, rep, resp.Header
}

// globalViolations lists the violations of global tables db logged.
func globalViolations(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT source, tbl, pk, reason FROM _region.violations WHERE bucket < 0 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var src, tbl, pk, reason string
		if err := rows.Scan(&src, &tbl, &pk, &reason); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s: %s", src, tbl, pk, reason))
	}
	return out
}
