package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/retry"
	"github.com/regionplatform/region/topo"
)

// Route is where a user's requests go.
type Route struct {
	Bucket topo.Bucket
	Cell   string
	Region string
	// Endpoint is the region's application URL (config regions[].app).
	Endpoint string
	// WriteForbidden is true while a switch holds the bucket fenced: reads
	// may proceed, writes must be refused and retried later.
	WriteForbidden bool
	// Epoch is the version of the table the answer came from.
	Epoch uint64
}

// Config configures a Router.
type Config struct {
	// Store is the deployment's routing table.
	Store *Store
	// ID names this router in etcd (unique per process), e.g. "regiond-a".
	ID string
	// Region and Kind describe the router in the registry (Kind: regiond,
	// gateway, sdk).
	Region string
	Kind   string
	// Endpoints maps a region to its application URL, for Route.Endpoint.
	Endpoints map[string]string
	// TTL is the lease of the registration: a router that stops renewing
	// it is dropped from the registry this long after (default 5s).
	TTL time.Duration
	// Settle, if set, is called with a new epoch and its routes (every
	// bucket's, indexed by bucket; shared: not to be changed) before the
	// router reports it applied: a gateway waits there for the writes it
	// admitted under an older epoch, in buckets the new one routes
	// differently, to finish (Inflight.Settle).
	Settle func(ctx context.Context, epoch uint64, routes []Route)
	// Logger receives the router's logs (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the default lease.
func DefaultConfig() Config { return Config{Kind: "sdk", TTL: 5 * time.Second} }

// Validate reports the first field that makes c unusable.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("router: Config.Store is nil: pass router.NewStore(etcdClient, prefix)")
	case c.ID == "":
		return errors.New("router: Config.ID is empty: name this router, unique per process")
	case c.TTL < time.Second:
		return fmt.Errorf("router: Config.TTL %s is under 1s: etcd leases are whole seconds", c.TTL)
	}
	return nil
}

// Router holds the routing table in memory from an etcd watch and answers
// Route from an immutable snapshot. Run keeps it current; Route may be
// called from any number of goroutines at any time.
type Router struct {
	cfg  Config
	log  *slog.Logger
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex
	ready   chan struct{} // closed once the first table is loaded
	changed chan struct{} // closed and replaced on every new snapshot
}

// New checks cfg and returns a router with no table yet; Run loads it.
func New(cfg Config) (*Router, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultConfig().TTL
	}
	if cfg.Kind == "" {
		cfg.Kind = DefaultConfig().Kind
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Router{cfg: cfg, log: cfg.Logger.With("router", cfg.ID), ready: make(chan struct{}), changed: make(chan struct{})}, nil
}

// snapshot is one table made fast to look up: the answer for every
// bucket is made once per table, so Route is a hash and a copy.
type snapshot struct {
	table   *Table
	routes  []Route // per bucket
	buckets int
	stale   bool // cut off from etcd: every write forbidden
	// switching: a traffic switch holds buckets or a global table
	// write-forbidden (Router.Switching).
	switching bool
}

// newSnapshot makes the answers of t. A bucket is write-forbidden when a
// switch fences it, when its cell's region is fenced, or, for every
// bucket, when the router is cut off from etcd (stale): it can no longer
// know whether a forced failover moved its users elsewhere.
func newSnapshot(t *Table, endpoints map[string]string, stale bool) *snapshot {
	s := &snapshot{table: t, routes: make([]Route, t.Buckets), buckets: t.Buckets, stale: stale}
	for _, sp := range t.Spans {
		s.switching = s.switching || sp.State == WriteForbidden
	}
	for _, g := range t.Globals {
		s.switching = s.switching || g.State == WriteForbidden
	}
	cells := map[string]Cell{}
	for _, c := range t.Cells {
		cells[c.Name] = c
	}
	fenced := map[string]bool{}
	for _, r := range t.Regions {
		fenced[r.Name] = r.Fenced
	}
	for _, sp := range t.Spans {
		c := cells[sp.Cell]
		for b := int(sp.First); b <= int(sp.Last); b++ {
			s.routes[b] = Route{Bucket: topo.Bucket(b), Cell: c.Name, Region: c.Region, Endpoint: endpoints[c.Region],
				WriteForbidden: stale || sp.State == WriteForbidden || fenced[c.Region], Epoch: t.Epoch}
		}
	}
	return s
}

// setStale fences (or unfences) every bucket because the router lost (or
// regained) etcd. Writes through a router cut off from etcd for longer
// than its lease must stop: a region partitioned away may have been
// failed over by the others meanwhile.
func (r *Router) setStale(stale bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.snap.Load()
	if cur == nil || cur.stale == stale {
		return
	}
	r.snap.Store(newSnapshot(cur.table, r.cfg.Endpoints, stale))
	if stale {
		r.log.Error("router lost etcd for longer than its lease: refusing every write until it is back", "epoch", cur.table.Epoch)
	} else {
		r.log.Info("router reached etcd again: serving writes", "epoch", cur.table.Epoch)
	}
}

// Switching reports whether the table the router serves has buckets or
// global tables a traffic switch holds write-forbidden: a switch is
// waiting for replication (a fenced region, or a router cut off from
// etcd, is not a switch). It takes no lock.
func (r *Router) Switching() bool {
	s := r.snap.Load()
	return s != nil && s.switching
}

// Stale reports whether the router is cut off from etcd and refuses writes.
func (r *Router) Stale() bool {
	s := r.snap.Load()
	return s != nil && s.stale
}

// Route answers where the user with shard key userKey (its text form,
// e.g. the decimal user id) goes. ok is false until the first table is
// loaded. It takes no lock and does not allocate.
func (r *Router) Route(userKey string) (Route, bool) {
	s := r.snap.Load()
	if s == nil {
		return Route{}, false
	}
	return s.route(topo.BucketOfString(userKey, s.buckets)), true
}

// Lookup is Route without the copy: it returns the snapshot's own answer
// for the user's bucket, nil before the first table. The answer is
// immutable and shared: the caller must not change it. It takes no lock
// and does not allocate.
func (r *Router) Lookup(userKey string) *Route {
	s := r.snap.Load()
	if s == nil {
		return nil
	}
	return &s.routes[topo.BucketOfString(userKey, s.buckets)]
}

// RegionWritable reports whether a write that no user key routes may go
// to region: the router has a table, is not cut off from etcd, and the
// table does not fence the region (a forced failover). why says what
// stops it otherwise.
func (r *Router) RegionWritable(region string) (ok bool, why string) {
	s := r.snap.Load()
	switch {
	case s == nil:
		return false, "the routing table is not loaded yet"
	case s.stale:
		return false, "the router is cut off from etcd"
	}
	reg, found := s.table.Region(region)
	switch {
	case !found:
		return false, fmt.Sprintf("region %s is not in the routing table", region)
	case reg.Fenced:
		return false, fmt.Sprintf("region %s is fenced (%s)", region, reg.Reason)
	}
	return true, ""
}

// RouteBucket is Route for a bucket.
func (r *Router) RouteBucket(b topo.Bucket) (Route, bool) {
	s := r.snap.Load()
	if s == nil || int(b) >= s.buckets {
		return Route{}, false
	}
	return s.route(b), true
}

func (s *snapshot) route(b topo.Bucket) Route { return s.routes[b] }

// Table returns the table the router serves now (nil before the first).
// The caller must not change it.
func (r *Router) Table() *Table {
	if s := r.snap.Load(); s != nil {
		return s.table
	}
	return nil
}

// Epoch is the epoch the router serves (0 before the first table).
func (r *Router) Epoch() uint64 {
	if t := r.Table(); t != nil {
		return t.Epoch
	}
	return 0
}

// Wait blocks until the router serves epoch or later, or ctx ends.
func (r *Router) Wait(ctx context.Context, epoch uint64) error {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if r.Epoch() >= epoch {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("router %s: waiting for epoch %d (serving %d): %w", r.cfg.ID, epoch, r.Epoch(), ctx.Err())
		}
	}
}

// Ready is closed once the router has loaded a table.
func (r *Router) Ready() <-chan struct{} { return r.ready }

func (r *Router) publish(t *Table) bool {
	r.mu.Lock()
	cur := r.snap.Load()
	if cur != nil && cur.table.Epoch >= t.Epoch {
		r.mu.Unlock()
		return false
	}
	r.snap.Store(newSnapshot(t, r.cfg.Endpoints, cur != nil && cur.stale))
	close(r.changed)
	r.changed = make(chan struct{})
	if t.Epoch > 0 {
		select {
		case <-r.ready:
		default:
			close(r.ready)
		}
	}
	r.mu.Unlock()
	return true
}

// Run keeps the table current until ctx ends: it loads the table, watches
// it, and loads it again after the watch is lost (etcd restarted, or the
// watched revision compacted). It registers the router under a lease and
// publishes the epoch it has applied. It returns nil when ctx ends.
func (r *Router) Run(ctx context.Context) error {
	reg := &registration{r: r}
	applied := make(chan uint64, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reg.run(ctx, applied)
	}()
	defer wg.Wait()
	notify := func(epoch uint64) {
		if s := r.snap.Load(); r.cfg.Settle != nil && s != nil {
			r.cfg.Settle(ctx, epoch, s.routes)
		}
		select {
		case <-applied:
		default:
		}
		applied <- epoch
	}
	waits := retry.New(100*time.Millisecond, 2*time.Second)
	for ctx.Err() == nil {
		err := r.follow(ctx, notify)
		if ctx.Err() != nil {
			return nil
		}
		in := waits.NextBackOff()
		r.log.Warn("routing table watch lost; reloading", "err", err, "in", in)
		select {
		case <-ctx.Done():
		case <-time.After(in):
		}
	}
	return nil
}

// follow loads the table and applies every change from the watch until
// the watch fails.
func (r *Router) follow(ctx context.Context, notify func(uint64)) error {
	t, rev, err := r.cfg.Store.Load(ctx)
	if err != nil {
		return err
	}
	r.publish(t)
	notify(r.Epoch())
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range r.cfg.Store.c.Watch(wctx, r.cfg.Store.tableKey(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		for _, ev := range resp.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			t, err := decodeTable(ev.Kv.Value)
			if err != nil {
				r.log.Error("ignoring a routing table the router cannot serve", "err", err)
				continue
			}
			if r.publish(t) {
				r.log.Debug("routing table applied", "epoch", t.Epoch, "change", t.Change.Kind)
				notify(t.Epoch)
			}
		}
	}
	return errors.New("watch closed")
}
