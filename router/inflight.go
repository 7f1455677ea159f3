package router

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regionplatform/region/topo"
)

// Inflight counts the writes a gateway (or a guard: router/guard) has
// admitted and not yet finished, by generation and bucket, so that Settle
// can wait for every write admitted under an older routing table whose
// bucket that table routed differently. Pass its Settle as Config.Settle:
// the router then reports epoch E applied in etcd only once no write
// routed by a table older than E is still running in a bucket E routes
// another way (another cell, or write-forbidden), which is what a traffic
// switch waits for before it flips fenced buckets. A slow write of a user
// the switch does not move does not hold it up.
//
// How it is cheap and still exact: a write enters the current generation
// (one atomic load, one atomic add) BEFORE it asks the router for its
// route, and, once it has its route, moves to its bucket's count in that
// generation (Write.Route); it leaves when it ends. Settle(E) runs after
// the router has published E; it installs a new generation and waits, in
// every older one, for the writes without a bucket and for those in the
// buckets whose route differs between E and the table current when the
// generation was installed. A write whose route came from a table older
// than E looked up its route before E was published, so it entered
// before Settle(E) swapped generations: it is in a generation Settle(E)
// looks at (Enter counts a write in a generation only while it is not
// retired). Such a write may also have been routed by the table that
// retired its generation, but the Settle of that table waited for it
// where the two route differently. Writes routed by E itself may also be
// waited for (they can land in the old generation); that only makes
// Settle wait a little more, never less.
//
// Enter, Route and Leave may run on any number of goroutines; Settle
// calls are serialised.
type Inflight struct {
	cur   atomic.Pointer[Generation]
	bound time.Duration
	log   *slog.Logger

	settling  sync.Mutex // serialises Settle
	installed uint64     // epoch of the generation in cur; under settling

	mu       sync.Mutex    // guards retired; never held while waiting
	retired  []*Generation // swapped out, not yet seen drained
	timeouts atomic.Uint64
}

// Generation is the set of writes admitted between two Settle calls.
type Generation struct {
	// n counts the writes without a bucket (no route yet, or a write
	// that is not one user's: global tables, keyless); buckets the others,
	// by bucket (modulo its length).
	n       atomic.Int64
	buckets []atomic.Int64
	retired atomic.Bool
	// changed gets a value when a count of a retired generation falls to
	// zero: Settle looks again.
	changed chan struct{}
	// routes are the routes of the table current when the generation was
	// installed (nil: unknown, every bucket counts as changed).
	routes []Route
}

// maxBucketCounts bounds a generation's per-bucket counts; buckets beyond
// share them (modulo), which only makes Settle wait for more writes.
const maxBucketCounts = 1 << 14

// DefaultSettleBound is how long Settle waits for old writes by default.
const DefaultSettleBound = 10 * time.Second

// NewInflight returns a tracker whose Settle waits at most bound (default
// DefaultSettleBound) and then logs a warning to log and returns.
func NewInflight(bound time.Duration, log *slog.Logger) *Inflight {
	if bound <= 0 {
		bound = DefaultSettleBound
	}
	if log == nil {
		log = slog.Default()
	}
	f := &Inflight{bound: bound, log: log}
	f.cur.Store(newGeneration(nil))
	return f
}

func newGeneration(routes []Route) *Generation {
	return &Generation{buckets: make([]atomic.Int64, min(max(len(routes), 1), maxBucketCounts)), changed: make(chan struct{}, 1), routes: routes}
}

// Write is one write counted by Enter, until its Leave.
type Write struct {
	g    *Generation
	slot int // its bucket's count in g, +1; 0: none
}

// Enter counts one write as running, in no bucket yet: Settle waits for
// it whatever the new table changes. The caller must call Leave when the
// write ends (defer w.Leave() on the variable sees a later Route). It
// does not allocate.
func (f *Inflight) Enter() Write {
	for {
		g := f.cur.Load()
		g.n.Add(1)
		if !g.retired.Load() {
			// Counted before the generation is retired: a Settle that
			// retires it sees the write.
			return Write{g: g}
		}
		g.drop(&g.n) // swapped out meanwhile: count it in the current one
	}
}

// Route records the bucket of the write's route, once the router has
// answered: Settle then waits for the write only if a new table routes
// that bucket differently. Call it at most once, for a write of one user.
func (w *Write) Route(b topo.Bucket) {
	if w.g == nil || w.slot != 0 {
		return
	}
	slot := int(b) % len(w.g.buckets)
	w.g.buckets[slot].Add(1) // first: the write is never in neither count
	w.slot = slot + 1
	w.g.drop(&w.g.n)
}

// Leave ends the write.
func (w *Write) Leave() {
	switch {
	case w.g == nil:
		return
	case w.slot == 0:
		w.g.drop(&w.g.n)
	default:
		w.g.drop(&w.g.buckets[w.slot-1])
	}
	w.g = nil
}

// drop takes one write off count c of g, and tells a Settle waiting for
// g when c falls to zero.
func (g *Generation) drop(c *atomic.Int64) {
	if c.Add(-1) == 0 && g.retired.Load() {
		select {
		case g.changed <- struct{}{}:
		default:
		}
	}
}

// running is how many of g's writes have not finished.
func (g *Generation) running() int64 {
	n := max(g.n.Load(), 0)
	for i := range g.buckets {
		n += max(g.buckets[i].Load(), 0)
	}
	return n
}

// waitsFor returns the counts of g (indexes into g.buckets) that Settle
// must see at zero for a table whose routes are to: every bucket that
// g's table routes differently.
func (g *Generation) waitsFor(to []Route) []int {
	if g.routes == nil || len(g.routes) != len(to) {
		all := make([]int, len(g.buckets))
		for i := range all {
			all[i] = i
		}
		return all
	}
	seen := make([]bool, len(g.buckets))
	var out []int
	for b := range to {
		if slot := b % len(g.buckets); !seen[slot] && !sameRoute(g.routes[b], to[b]) {
			seen[slot] = true
			out = append(out, slot)
		}
	}
	return out
}

// sameRoute reports whether a write routed by a goes where b sends it:
// the same cell, and writable in both or in neither.
func sameRoute(a, b Route) bool {
	return a.Cell == b.Cell && a.Region == b.Region && a.Endpoint == b.Endpoint && a.WriteForbidden == b.WriteForbidden
}

// drained reports whether g has no write left that Settle waits for: none
// without a bucket (read first: a write moves to its bucket before it
// leaves that count), none in the counts of slots.
func (g *Generation) drained(slots []int) bool {
	if g.n.Load() > 0 {
		return false
	}
	for _, s := range slots {
		if g.buckets[s].Load() > 0 {
			return false
		}
	}
	return true
}

// Running is how many admitted writes have not finished yet.
func (f *Inflight) Running() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.cur.Load().running()
	for _, g := range f.retired {
		n += g.running()
	}
	return n
}

// Timeouts is how many Settle calls gave up waiting at the bound.
func (f *Inflight) Timeouts() uint64 { return f.timeouts.Load() }

// Settle returns once every write admitted under an epoch older than
// epoch, in a bucket that routes (the epoch's routes, indexed by bucket)
// sends elsewhere or forbids, has finished; or when ctx ends, or after
// the bound (logging a warning that names how many writes are still
// running). It is meant to be router.Config.Settle, which the router
// calls after it starts serving epoch and before it reports epoch
// applied.
func (f *Inflight) Settle(ctx context.Context, epoch uint64, routes []Route) {
	f.settling.Lock()
	defer f.settling.Unlock()
	f.mu.Lock()
	if epoch > f.installed {
		old := f.cur.Swap(newGeneration(routes))
		f.installed = epoch
		old.retired.Store(true) // after the swap: Enter then finds the new one
		f.retired = append(f.retired, old)
	}
	pending := append([]*Generation(nil), f.retired...)
	f.mu.Unlock()
	defer f.forgetDrained()
	start := time.Now()
	timer := time.NewTimer(f.bound)
	defer timer.Stop()
	for _, g := range pending {
		slots := g.waitsFor(routes)
		for !g.drained(slots) {
			select {
			case <-g.changed:
				continue
			case <-ctx.Done():
			case <-timer.C:
				f.timeouts.Add(1)
				f.log.Warn("writes admitted under an older routing table are still running; reporting the epoch applied anyway",
					"epoch", epoch, "running", f.Running(), "waited", time.Since(start).Round(time.Millisecond),
					"hint", "a traffic switch may flip buckets while these writes run: check the application's slow requests")
			}
			// Given up: a write of these generations that had no route
			// may find one in any later table, so later Settles wait for
			// all of their writes.
			for _, g := range pending {
				g.routes = nil
			}
			return
		}
	}
}

// forgetDrained drops the retired generations that no write is left in;
// the others stay for the next Settle to look at.
func (f *Inflight) forgetDrained() {
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := f.retired[:0]
	for _, g := range f.retired {
		if g.running() > 0 {
			keep = append(keep, g)
		}
	}
	clear(f.retired[len(keep):])
	f.retired = keep
}
