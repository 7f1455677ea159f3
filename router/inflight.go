package router

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Inflight counts the writes a gateway (or a guard: router/guard) has
// admitted and not yet finished, by generation, so that Settle can wait
// for every write admitted under an older routing table. Pass its Settle
// as Config.Settle: the router then reports epoch E applied in etcd only once no write routed
// by a table older than E is still running, which is what a traffic
// switch waits for before it flips fenced buckets.
//
// How it is cheap and still exact: a write enters the current generation
// (one atomic load, one atomic add) BEFORE it asks the router for its
// route, and leaves it when it ends. Settle(E) runs after the router has
// published E; it installs a new generation and waits for every older one
// to drain. A write whose route came from a table older than E looked up
// its route before E was published, so it entered before Settle(E)
// swapped generations: it is in a generation Settle(E) waits for. Writes
// routed by E itself may also be waited for (they can land in the old
// generation); that only makes Settle wait a little more, never less.
//
// Enter and Leave may run on any number of goroutines; Settle calls are
// serialised.
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
	n       atomic.Int64
	retired atomic.Bool
	closed  atomic.Bool
	done    chan struct{} // closed once retired and drained
	epoch   uint64
}

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
	f.cur.Store(newGeneration(0))
	return f
}

func newGeneration(epoch uint64) *Generation {
	return &Generation{done: make(chan struct{}), epoch: epoch}
}

// Enter counts one write as running; the caller must call Leave on the
// returned Generation when the write ends. It does not allocate.
func (f *Inflight) Enter() *Generation {
	g := f.cur.Load()
	g.n.Add(1)
	return g
}

// Leave ends one write Enter counted.
func (g *Generation) Leave() {
	if g.n.Add(-1) == 0 && g.retired.Load() {
		g.finish()
	}
}

// retire marks g swapped out; from now on its count only falls to zero
// for good (writes entering it late are routed by the newer table).
func (g *Generation) retire() {
	g.retired.Store(true)
	if g.n.Load() == 0 {
		g.finish()
	}
}

func (g *Generation) finish() {
	if g.closed.CompareAndSwap(false, true) {
		close(g.done)
	}
}

// Running is how many admitted writes have not finished yet.
func (f *Inflight) Running() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.cur.Load().n.Load()
	for _, g := range f.retired {
		n += max(g.n.Load(), 0)
	}
	return n
}

// Timeouts is how many Settle calls gave up waiting at the bound.
func (f *Inflight) Timeouts() uint64 { return f.timeouts.Load() }

// Settle returns once every write admitted under an epoch older than
// epoch has finished, or when ctx ends, or after the bound (logging a
// warning that names how many writes are still running). It is meant to
// be router.Config.Settle, which the router calls after it starts serving
// epoch and before it reports epoch applied.
func (f *Inflight) Settle(ctx context.Context, epoch uint64) {
	f.settling.Lock()
	defer f.settling.Unlock()
	f.mu.Lock()
	if epoch > f.installed {
		old := f.cur.Swap(newGeneration(epoch))
		f.installed = epoch
		old.retire()
		f.retired = append(f.retired, old)
	}
	pending := append([]*Generation(nil), f.retired...)
	f.mu.Unlock()
	defer f.forgetDrained()
	start := time.Now()
	timer := time.NewTimer(f.bound)
	defer timer.Stop()
	for _, g := range pending {
		select {
		case <-g.done:
		case <-ctx.Done():
			return
		case <-timer.C:
			f.timeouts.Add(1)
			f.log.Warn("writes admitted under an older routing table are still running; reporting the epoch applied anyway",
				"epoch", epoch, "running", f.Running(), "waited", time.Since(start).Round(time.Millisecond),
				"hint", "a traffic switch may flip buckets while these writes run: check the application's slow requests")
			return
		}
	}
}

// forgetDrained drops the retired generations that have drained; the
// others stay for the next Settle to wait for.
func (f *Inflight) forgetDrained() {
	f.mu.Lock()
	defer f.mu.Unlock()
	keep := f.retired[:0]
	for _, g := range f.retired {
		if !g.closed.Load() {
			keep = append(keep, g)
		}
	}
	clear(f.retired[len(keep):])
	f.retired = keep
}
