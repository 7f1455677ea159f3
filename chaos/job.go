package chaos

import (
	"context"
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
// it raises a random rate's version in a random region, until ctx ends;
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
		_, err := r.DB.ExecContext(wctx, "UPDATE "+lab.SampleDatabase+".rates SET rate_bp = ?, version = version + 1, region = ? WHERE name = ?",
			rng.IntN(20000), r.Name, lab.Rates[rng.IntN(len(lab.Rates))])
		cancel()
		if err == nil {
			n++
		}
	}
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
