package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// convergeSeed is the randomized convergence test's seed: 1 in make
// test, so that every landing runs the same interleavings;
// REGION_CONVERGE_SEED=N runs another (make converge runs several).
func convergeSeed(t *testing.T) uint64 {
	s := os.Getenv("REGION_CONVERGE_SEED")
	if s == "" {
		return 1
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("REGION_CONVERGE_SEED=%q: give a number", s)
	}
	return n
}

// TestRandomConflictsConverge: both regions write the same small set of
// loan rows (last-writer-wins on version) and users (home-cell-wins on
// the user's bucket and version) while replication is cut: random
// inserts, updates (version + 1, as the application does) and deletes of
// loans, renames, deletes and re-inserts of users, and application
// transactions doing several of these at once
// (a loan refinanced: one deleted, one inserted, its user renamed, a third
// loan changed), interleaved differently in each region, for a few rounds. A
// deleted loan or user may be inserted again, by either region, with a
// version above any the round's deletes removed (a timestamp would be). After
// every round the regions must hold identical rows, with every conflict
// logged in both. Seeded and bounded: seed 1 runs in make test; make
// converge runs more.
func TestRandomConflictsConverge(t *testing.T) {
	convergeRounds(t, []string{"a", "b"}, false)
}

// TestRandomConflictsConvergeInThree: the same in three regions, and
// the users' buckets move to another region's cell after every round's
// writes, before they meet (as a switch or a failover would), so that
// home-cell-wins must decide by who owned a user when each change was
// written, whatever the owner is when it arrives (cdc/claim).
func TestRandomConflictsConvergeInThree(t *testing.T) {
	convergeRounds(t, []string{"a", "b", "c"}, true)
}

func convergeRounds(t *testing.T, regions []string, move bool) {
	seed := convergeSeed(t)
	t.Logf("seed %d (REGION_CONVERGE_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	st := labtest.Up(t, regions...)
	dbs := map[string]*sql.DB{}
	for _, r := range regions {
		dbs[r] = openDB(t, st, r, "lending")
	}
	createSchema(t, st, "a")
	const keys, rounds, opsPerRegion = 12, 2, 20
	for id := 1; id <= keys; id++ { // the rows everyone fights over
		mustExec(t, dbs["a"], fmt.Sprintf("INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (%d, %d, 100, 100, 'open', 1)", id, id),
			fmt.Sprintf("INSERT INTO users (id, name, home_cell) VALUES (%d, 'u%d', 'a1')", id, id))
	}
	labapi.Converged(t, st, 30*time.Second)
	for round := 1; round <= rounds; round++ {
		restartRegiond(t, st, false, regions...) // replication cut
		for _, r := range regions {
			for i := 0; i < opsPerRegion; i++ {
				var qs []string
				k := 1 + rng.IntN(keys)
				insert := fmt.Sprintf("INSERT INTO loan_accounts (id, user_id, principal_cents, balance_cents, status, version) VALUES (%d, %d, 100, %d, 'open', %d)", k, k, rng.IntN(1000), 100*round+rng.IntN(3))
				u := 1 + k%4 // among a few users, so that both regions change some
				rename := fmt.Sprintf("UPDATE users SET version = version + 1, name = '%s-%d' WHERE id = %d", r, rng.IntN(1000), u)
				switch rng.IntN(8) {
				case 6: // a user closes the account
					qs = []string{fmt.Sprintf("DELETE FROM users WHERE id = %d", u)}
				case 7: // and comes back (fails where the user is present)
					qs = []string{fmt.Sprintf("INSERT INTO users (id, name, home_cell, version) VALUES (%d, '%s-back', 'a1', %d)", u, r, 100*round+rng.IntN(3))}
				case 0: // fails where the key is present
					qs = []string{insert}
				case 1:
					qs = []string{fmt.Sprintf("DELETE FROM loan_accounts WHERE id = %d", k)}
				case 2:
					qs = []string{rename}
				case 3: // an application's transaction: a loan refinanced under
					// another id (one deleted, one inserted), its user renamed and
					// a third loan changed; all or nothing
					other := 1 + (k+rng.IntN(keys-1))%keys
					qs = []string{fmt.Sprintf("DELETE FROM loan_accounts WHERE id = %d", other), insert, rename,
						fmt.Sprintf("UPDATE loan_accounts SET balance_cents = balance_cents - 1, version = version + 1 WHERE id = %d", 1+rng.IntN(keys))}
				default:
					qs = []string{fmt.Sprintf("UPDATE loan_accounts SET balance_cents = %d, version = version + 1 WHERE id = %d", rng.IntN(100000), k)}
				}
				if err := inTxnOrDup(dbs[r], qs); err != nil {
					t.Fatalf("round %d, region %s: %v", round, r, err)
				}
			}
		}
		if move {
			// Later than the clock skew History allows an unstamped
			// change's commit time.
			time.Sleep(router.ClockSkew + 2*time.Second)
			for u := int64(1); u <= 4; u++ {
				to := regions[rng.IntN(len(regions))]
				moveBucket(t, st, topo.BucketOfString(itoa(u), st.Buckets), lab.CellName(to))
				t.Logf("round %d: user %d's bucket moved to %s", round, u, to)
			}
		}
		for _, r := range regions {
			if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, r, "regiond"); err != nil {
				t.Fatal(err)
			}
		}
		st, _ = lab.LoadState(st.Dir)
		labapi.Converged(t, st, time.Minute)
		sameTables(t, st, "lending.loan_accounts", "lending.users")
		if t.Failed() {
			t.Fatalf("round %d did not converge (seed %d)", round, seed)
		}
	}
	for _, tbl := range []string{"loan_accounts", "users"} {
		var counts []string
		total := 0
		for _, r := range regions {
			var n int
			dbs[r].QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = ?", tbl).Scan(&n)
			counts, total = append(counts, fmt.Sprintf("%d in %s", n, r)), total+n
		}
		t.Logf("%d rounds converged; conflicts logged on %s: %s", rounds, tbl, strings.Join(counts, ", "))
		if total == 0 {
			t.Errorf("no conflict was logged on %s: the rounds did not make the regions write the same rows", tbl)
		}
	}
	if move {
		var n int
		for _, r := range regions {
			var k int
			dbs[r].QueryRow("SELECT COUNT(*) FROM _region.conflicts WHERE tbl = 'users' AND reason LIKE '%owned it at epoch%'").Scan(&k)
			n += k
		}
		t.Logf("users' conflicts decided by an owner's stamp: %d", n)
		if n == 0 {
			t.Error("no users' conflict was decided by who owned the user when writing")
		}
	}
}

// inTxnOrDup runs qs in one transaction; a duplicate key rolls it all
// back, as the application would, and is no error.
func inTxnOrDup(db *sql.DB, qs []string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for _, q := range qs {
		if _, err := tx.Exec(q); err != nil {
			_ = tx.Rollback()
			if isDupKey(err) {
				return nil
			}
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

func isDupKey(err error) bool { return err != nil && strings.Contains(err.Error(), "Error 1062") }
