package chaos

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"github.com/regionplatform/region/lab"
)

// jobInterval is how often the rates job writes a global row.
const jobInterval = 200 * time.Millisecond

// ratesJob is a batch job of the kind applications run beside their
// gateway traffic: straight to MySQL with the application's account
// (lab.AppUser), in every region, on rows no user owns (the global table
// lab.Rates, last-writer-wins), without asking the routing table. Every
// jobInterval it changes a random rate in a random region, until ctx
// ends: one write in six retires the rate (a delete), the others raise
// its version, or bring a retired rate back with a version above any it
// had (a timestamp, as last-writer-wins asks: docs/cdc.md, tombstones).
// What fences it is the database: a failed-over region's MySQL is
// read-only for the application (error 1290, docs/failover.md), and a
// region that does not answer (a fault) fails the write; such writes are
// not counted. It returns the writes that committed.
func (e *Env) ratesJob(ctx context.Context, seed uint64) int {
	var dbs []*sql.DB
	for _, r := range e.St.Regions {
		db, err := lab.OpenAppMySQL(r.MySQLPort, "")
		if err != nil {
			e.Log.Warn("chaos: the rates job did not start", "err", err)
			return 0
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
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
		i := rng.IntN(len(dbs))
		if e.appsStopped(e.St.Regions[i].Name) {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := writeRate(wctx, dbs[i], e.St.Regions[i].Name, lab.Rates[rng.IntN(len(lab.Rates))], rng); err == nil {
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
