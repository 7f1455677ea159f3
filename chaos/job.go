package chaos

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
)

// jobInterval is how often the rates job writes a global row.
const jobInterval = 200 * time.Millisecond

// ratesJob is a batch job of the kind applications run beside their
// gateway traffic: straight to MySQL, in every region, on rows no user
// owns (the global table lab.Rates, last-writer-wins). Every jobInterval
// it changes a random rate in a random region, until ctx ends: one write
// in six retires the rate (a delete), the others raise its version, or
// bring a retired rate back with a version above any it had (a
// timestamp, as last-writer-wins asks: docs/cdc.md, tombstones);
// a region that does not answer (a fault) is skipped, and so is a region
// the routing table fences (a failed-over region): the job asks before
// each write, as a job that honours the platform's fence does. (A write
// to a fenced region's MySQL is accepted by MySQL today; refusing it
// there is issue 11's fencing at the database.) It returns the writes
// that committed.
func (e *Env) ratesJob(ctx context.Context, seed uint64) int {
	regions, closeAll, err := ledger.Regions(e.St)
	if err != nil {
		e.Log.Warn("chaos: the rates job did not start", "err", err)
		return 0
	}
	defer closeAll()
	rng := rand.New(rand.NewPCG(seed, 3))
	tick := time.NewTicker(jobInterval)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		r := regions[rng.IntN(len(regions))]
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		if e.fenced(wctx, r.Name) {
			cancel()
			continue
		}
		if err := writeRate(wctx, r.DB, r.Name, lab.Rates[rng.IntN(len(lab.Rates))], rng); err == nil {
			n++
		}
		cancel()
	}
}

// writeRate retires rate name (one time in six), or raises its version,
// or inserts it again if it is retired.
func writeRate(ctx context.Context, db *sql.DB, region, name string, rng *rand.Rand) error {
	table := lab.SampleDatabase + ".rates"
	bp := rng.IntN(20000)
	if rng.IntN(6) == 0 {
		_, err := db.ExecContext(ctx, "DELETE FROM "+table+" WHERE name = ?", name)
		return err
	}
	res, err := db.ExecContext(ctx, "UPDATE "+table+" SET rate_bp = ?, version = version + 1, region = ? WHERE name = ?", bp, region, name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	_, err = db.ExecContext(ctx, "INSERT INTO "+table+" (name, rate_bp, version, region) VALUES (?, ?, ?, ?)", name, bp, time.Now().UnixMicro(), region)
	return err
}

// fenced reports whether the routing table fences region (or cannot be
// read: then no write).
func (e *Env) fenced(ctx context.Context, region string) bool {
	c, err := e.anyAPI(ctx)
	if err != nil {
		return true
	}
	rs, err := c.Routes(ctx)
	if err != nil || rs.Table == nil {
		return true
	}
	for _, r := range rs.Table.Regions {
		if r.Name == region {
			return r.Fenced
		}
	}
	return true
}
