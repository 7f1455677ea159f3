// Package traffic moves buckets between cells, and global tables' homes
// between regions, without losing or doubling a write: fence the buckets
// and tables (write-forbidden, new epoch), wait until every live router
// has applied the fence, wait until replication from the old owners'
// regions has applied everything committed before it, then flip the
// buckets to the new cell (the tables to its region) and serve them again.
//
//	sw, _ := traffic.New(cfg)
//	go sw.Run(ctx)
//	rec, err := sw.Start(ctx, traffic.Request{Buckets: "0-255", To: "b1", Reason: "drain a", Actor: "alice"})
//
// Every switch is recorded in etcd (who, why, each step's start and end,
// the write-forbidden window) and can be aborted; a guard that fails
// (replication lag, a router not acknowledging) aborts it and leaves the
// old owner serving.
package traffic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// ErrNotFound is returned for a switch id that has no record.
var ErrNotFound = errors.New("no such switch")

// Link is a replication link's progress, as the switch needs it.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
	// State is running, halted, starting, stopped or failed.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// AppliedGTID is the source GTID set everything up to which is applied.
	AppliedGTID string  `json:"applied_gtid"`
	LagSeconds  float64 `json:"lag_seconds"`
	LagTxns     uint64  `json:"lag_txns"`
	// Consumed: every partition applied what its Kafka partition held
	// at its last fetch (apply.LinkStatus.Consumed).
	Consumed bool `json:"consumed"`
}

// Replication is what a switch needs to know of replication. Calls may
// come from several switches at once.
type Replication interface {
	// Position returns the GTID set region's MySQL has committed.
	Position(ctx context.Context, region string) (string, error)
	// Link returns the progress of the link from -> to.
	Link(ctx context.Context, from, to string) (Link, error)
	// Covers reports whether GTID set a of region's MySQL includes b.
	Covers(region, a, b string) (bool, error)
}

// Waiter is Replication that can wait, on the link's target, until the
// link from -> to has applied pos (a long poll on the applier's commits),
// at most wait: a switch then ends its wait for replication when the
// position is applied instead of at its next poll. covered says whether
// it was; the link is as it was then.
type Waiter interface {
	WaitApplied(ctx context.Context, from, to, pos string, wait time.Duration) (l Link, covered bool, err error)
}

// Config configures a Switcher.
type Config struct {
	Store       *router.Store
	Replication Replication
	// AckTimeout bounds the wait for every live router to apply an epoch.
	AckTimeout time.Duration
	// MaxLag is the replication lag (seconds behind) above which a switch
	// refuses to fence, or aborts while waiting.
	MaxLag time.Duration
	// CatchUpTimeout bounds the wait for replication after the fence.
	CatchUpTimeout time.Duration
	// Poll is how often waits look again (default 20ms).
	Poll   time.Duration
	Logger *slog.Logger
	// Metrics, if set, receives the switch's collectors.
	Metrics prometheus.Registerer
}

// DefaultConfig returns the defaults of the config file's router section.
func DefaultConfig() Config {
	return Config{AckTimeout: 5 * time.Second, MaxLag: 5 * time.Second, CatchUpTimeout: 30 * time.Second, Poll: 20 * time.Millisecond}
}

// Validate reports the first field that makes c unusable.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("traffic: Config.Store is nil")
	case c.Replication == nil:
		return errors.New("traffic: Config.Replication is nil")
	case c.AckTimeout <= 0 || c.MaxLag <= 0 || c.CatchUpTimeout <= 0 || c.Poll <= 0:
		return errors.New("traffic: AckTimeout, MaxLag, CatchUpTimeout and Poll must be positive: start from DefaultConfig()")
	}
	return nil
}

// Request asks for a switch.
type Request struct {
	// Buckets is a bucket list such as "0-255,300".
	Buckets string `json:"buckets"`
	// Tables are global tables ("db.table") whose home moves to To's
	// region, with the last stage's buckets.
	Tables []string `json:"tables,omitempty"`
	// To is the target cell; a switch of tables only may name a region.
	To     string `json:"to"`
	Reason string `json:"reason"`
	// Stages are cumulative percentages, e.g. [1, 10, 100]; empty is [100].
	Stages []int `json:"stages,omitempty"`
	DryRun bool  `json:"dry_run,omitempty"`
	// Actor is who asked (the API fills it in from the token).
	Actor string `json:"-"`
	// Fenced, if set, runs as step "fenced" of the last stage, once every
	// router honours its fence and before the wait for replication: a
	// planned failover makes the old region's MySQL read-only there, so
	// nothing that bypasses the routers writes it while replication
	// catches up. An error aborts the switch.
	Fenced func(ctx context.Context) (string, error) `json:"-"`
}

// Switcher runs traffic switches. Run owns the switches Start begins.
type Switcher struct {
	cfg Config
	log *slog.Logger
	rec records
	m   *metrics

	mu      sync.Mutex
	base    context.Context // Run's context; nil until Run starts
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
}

// New checks cfg and returns a Switcher; call Run before Start.
func New(cfg Config) (*Switcher, error) {
	if cfg.Poll == 0 {
		cfg.Poll = DefaultConfig().Poll
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Switcher{cfg: cfg, log: cfg.Logger, m: m, running: map[string]context.CancelFunc{},
		rec: records{c: cfg.Store.Client(), prefix: cfg.Store.SwitchesPrefix() + "records/"}}, nil
}

// Run lets Start begin switches until ctx ends, then waits for the
// running ones to stop (each unfences its buckets as it stops).
func (s *Switcher) Run(ctx context.Context) error {
	s.mu.Lock()
	s.base = ctx
	s.mu.Unlock()
	<-ctx.Done()
	s.wg.Wait()
	return nil
}

// request is a checked Request.
type request struct {
	Request
	ranges []topo.Range
	count  int
	cell   router.Cell
	// tables are the global tables whose home moves (not in To's region).
	tables []string
}

// check validates req against the current table.
func (s *Switcher) check(req Request, t *router.Table) (*request, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return nil, errors.New("reason: missing: say why the buckets move (it goes into the switch history)")
	}
	if strings.TrimSpace(req.Buckets) == "" && len(req.Tables) == 0 {
		return nil, errors.New("buckets: missing: name the buckets to move, e.g. 0-255,300 (or tables: the global tables whose home moves)")
	}
	var ranges []topo.Range
	n := 0
	if strings.TrimSpace(req.Buckets) != "" {
		var err error
		if ranges, err = topo.ParseBuckets(req.Buckets, t.Buckets); err != nil {
			return nil, fmt.Errorf("buckets: %w", err)
		}
		seen := make([]bool, t.Buckets)
		for _, r := range ranges {
			for b := r.First; b <= r.Last; b++ {
				if seen[b] {
					return nil, fmt.Errorf("buckets: bucket %d is listed twice", b)
				}
				seen[b] = true
				n++
			}
		}
	}
	cell, err := target(t, req.To, len(ranges) == 0)
	if err != nil {
		return nil, err
	}
	if r, _ := t.Region(cell.Region); r.Fenced {
		return nil, fmt.Errorf("to: cell %s lives in region %s, which is fenced (%s): no switch into it", cell.Name, cell.Region, r.Reason)
	}
	if len(req.Stages) == 0 {
		req.Stages = []int{100}
	}
	for i, p := range req.Stages {
		if p < 1 || p > 100 || (i > 0 && p <= req.Stages[i-1]) {
			return nil, fmt.Errorf("stages: %v: use increasing percentages from 1 to 100, ending at 100, e.g. 1,10,100", req.Stages)
		}
	}
	if req.Stages[len(req.Stages)-1] != 100 {
		return nil, fmt.Errorf("stages: %v: the last stage must be 100", req.Stages)
	}
	moving := 0
	for _, r := range ranges {
		for b := r.First; b <= r.Last; b++ {
			o := t.Owner(b)
			if o.State == router.WriteForbidden {
				return nil, fmt.Errorf("buckets: bucket %d is write-forbidden by switch %s: wait for it or abort it (regionctl switch abort %s)", b, o.Switch, o.Switch)
			}
			if o.Cell != cell.Name {
				moving++
			}
		}
	}
	var tables []string
	for i, name := range req.Tables {
		g, ok := t.Global(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("tables[%d]: %q is not a global table of the routing table (config replication.tables class global)", i, name)
		case slices.Contains(tables, name):
			return nil, fmt.Errorf("tables[%d]: %s is listed twice", i, name)
		case g.State == router.WriteForbidden:
			return nil, fmt.Errorf("tables[%d]: %s is write-forbidden by switch %s: wait for it or abort it (regionctl switch abort %s)", i, name, g.Switch, g.Switch)
		case g.Home != cell.Region:
			tables = append(tables, name)
		}
	}
	if moving == 0 && len(tables) == 0 {
		what := "every bucket of " + req.Buckets + " is already in cell " + cell.Name
		if len(ranges) == 0 {
			what = "every table's home is already region " + cell.Region
		}
		return nil, fmt.Errorf("buckets: %s: nothing to move", what)
	}
	return &request{Request: req, ranges: ranges, count: n, cell: cell, tables: tables}, nil
}

// target finds the cell a switch goes to: the cell named to, or, for a
// switch of tables only, the first cell of the region named to.
func target(t *router.Table, to string, tablesOnly bool) (router.Cell, error) {
	if c, ok := t.Cell(to); ok {
		return c, nil
	}
	if _, ok := t.Region(to); ok && tablesOnly {
		for _, c := range t.Cells {
			if c.Region == to {
				return c, nil
			}
		}
		return router.Cell{}, fmt.Errorf("to: region %s has no cell in the routing table: start its regiond with a config that lists one", to)
	}
	names := make([]string, len(t.Cells))
	for i, c := range t.Cells {
		names[i] = c.Name
	}
	if tablesOnly {
		return router.Cell{}, fmt.Errorf("to: %q is neither a region nor a cell: use one of %s", to, strings.Join(append(t.RegionNames(), names...), ", "))
	}
	return router.Cell{}, fmt.Errorf("to: cell %q does not exist: use one of %s", to, strings.Join(names, ", "))
}

// Plan is what a dry run reports: what would move and what stands in the
// way, without changing anything.
type Plan struct {
	DryRun   bool   `json:"dry_run"`
	Buckets  string `json:"buckets"`
	Count    int    `json:"count"`
	To       string `json:"to"`
	ToRegion string `json:"to_region"`
	Moves    []Move `json:"moves"`
	// Tables are the global tables whose home would move.
	Tables []string `json:"tables,omitempty"`
	Links  []Link   `json:"links"`
	Stages []int    `json:"stages"`
	// ExpectedFenceMS estimates the write-forbidden window: router
	// acknowledgement plus the current lag of the slowest link.
	ExpectedFenceMS int64    `json:"expected_fence_ms"`
	Warnings        []string `json:"warnings,omitempty"`
}

// Move is the share of a switch one source cell gives up.
type Move struct {
	Cell    string `json:"cell"`
	Region  string `json:"region"`
	Buckets string `json:"buckets"`
	Count   int    `json:"count"`
}

// DryRun checks req and reports what it would do.
func (s *Switcher) DryRun(ctx context.Context, req Request) (*Plan, error) {
	t, _, err := s.cfg.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.check(req, t)
	if err != nil {
		return nil, err
	}
	p := &Plan{DryRun: true, Buckets: req.Buckets, Count: r.count, To: r.cell.Name, ToRegion: r.cell.Region, Stages: r.Stages, Tables: r.tables}
	p.Moves = moves(t, r.ranges, r.cell.Name)
	var worst float64
	for _, src := range sourceRegions(t, p.Moves, r.tables, r.cell.Region) {
		for _, dst := range receivers(t, src) {
			l, err := s.cfg.Replication.Link(ctx, src, dst)
			if err != nil {
				p.Warnings = append(p.Warnings, fmt.Sprintf("link %s->%s: %v", src, dst, err))
				continue
			}
			p.Links = append(p.Links, l)
			worst = math.Max(worst, l.LagSeconds)
			if l.State != apply.StateRunning {
				p.Warnings = append(p.Warnings, fmt.Sprintf("link %s->%s is %s (%s): the switch would wait for it and abort", l.From, l.To, l.State, l.Error))
			} else if time.Duration(l.LagSeconds*float64(time.Second)) > s.cfg.MaxLag {
				p.Warnings = append(p.Warnings, fmt.Sprintf("link %s->%s is %.1fs behind, above the %s limit: the switch would refuse", l.From, l.To, l.LagSeconds, s.cfg.MaxLag))
			}
		}
	}
	routers, err := s.cfg.Store.Routers(ctx)
	if err != nil {
		p.Warnings = append(p.Warnings, err.Error())
	}
	for _, ri := range routers {
		if ri.Epoch < t.Epoch {
			p.Warnings = append(p.Warnings, fmt.Sprintf("router %s serves epoch %d, the table is at %d: it may not acknowledge the fence in time", ri.ID, ri.Epoch, t.Epoch))
		}
	}
	p.ExpectedFenceMS = int64(100 + worst*1000)
	return p, nil
}

// moves groups the buckets of ranges by the cell that owns them now,
// leaving out those already in cell to.
func moves(t *router.Table, ranges []topo.Range, to string) []Move {
	by := map[string]*Move{}
	var bs = map[string][]topo.Bucket{}
	for _, r := range ranges {
		for b := r.First; b <= r.Last; b++ {
			o := t.Owner(b)
			if o.Cell == to {
				continue
			}
			if by[o.Cell] == nil {
				by[o.Cell] = &Move{Cell: o.Cell, Region: o.Region}
			}
			by[o.Cell].Count++
			bs[o.Cell] = append(bs[o.Cell], b)
		}
	}
	out := make([]Move, 0, len(by))
	for c, m := range by {
		m.Buckets = topo.FormatBuckets(bs[c])
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cell < out[j].Cell })
	return out
}

// sourceRegions are the regions buckets leave and the homes tables
// leave, other than the target's.
func sourceRegions(t *router.Table, ms []Move, tables []string, to string) []string {
	regions := make([]string, len(ms))
	for i, m := range ms {
		regions[i] = m.Region
	}
	return withHomes(t, regions, tables, to)
}

// withHomes adds to regions the homes of tables in t and returns them
// once each, sorted, without to.
func withHomes(t *router.Table, regions, tables []string, to string) []string {
	for _, name := range tables {
		g, _ := t.Global(name)
		regions = append(regions, g.Home)
	}
	slices.Sort(regions)
	regions = slices.Compact(regions)
	if i := slices.Index(regions, to); i >= 0 {
		regions = slices.Delete(regions, i, i+1)
	}
	return regions
}
