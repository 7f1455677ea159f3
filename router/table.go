package router

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// Bucket states.
const (
	// Serving buckets accept reads and writes in their cell's region.
	Serving = "serving"
	// WriteForbidden buckets accept reads only: a switch holds them fenced.
	WriteForbidden = "write-forbidden"
)

// Table is one version of the routing table: which cell owns each bucket,
// which region each cell lives in, and which buckets are fenced. Every
// change makes a new version with a higher Epoch; old versions are kept
// as history. A Table is never changed after it is published: changes
// are made on a Clone.
type Table struct {
	// Epoch increases by one with every change.
	Epoch uint64 `json:"epoch"`
	// Buckets is how many buckets users hash into.
	Buckets int      `json:"buckets"`
	Regions []Region `json:"regions"`
	Cells   []Cell   `json:"cells"`
	// Spans are the buckets in order, as runs of buckets with the same
	// cell, state and fence.
	Spans []Span `json:"spans"`
	// Globals are the global tables and their homes (config class global).
	Globals []Global `json:"globals,omitempty"`
	// Change says who made this version and why.
	Change Change `json:"change"`
}

// Region is a region in the routing table.
type Region struct {
	Name string `json:"name"`
	// Fenced regions accept no writes and no buckets (a forced failover
	// fenced it, or an operator did).
	Fenced bool   `json:"fenced,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Cell is a unit of placement living in one region.
type Cell struct {
	Name   string `json:"name"`
	Region string `json:"region"`
}

// Span is a run of buckets [First, Last] with the same owner and state.
type Span struct {
	First topo.Bucket `json:"first"`
	Last  topo.Bucket `json:"last"`
	Cell  string      `json:"cell"`
	// State is Serving or WriteForbidden.
	State string `json:"state"`
	// Switch is the id of the switch holding a WriteForbidden span.
	Switch string `json:"switch,omitempty"`
}

// Change records who made a version of the table and why.
type Change struct {
	// Kind is what changed: init, fence, flip, unfence, rollback,
	// add-places (AddPlaces).
	Kind   string    `json:"kind"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	// Switch is the switch that made the change, if any.
	Switch string `json:"switch,omitempty"`
	// From is the epoch a rollback restored.
	From uint64 `json:"from,omitempty"`
}

// Owner is what the table says of one bucket.
type Owner struct {
	Cell   string
	Region string
	State  string
	Switch string
}

// Initial is the table of a fresh deployment: the cells of cfg in file
// order, each owning an even, contiguous share of the buckets (the same
// placement as config.StartingOwner), every bucket serving, epoch 1.
func Initial(cfg *config.Config, now time.Time) *Table {
	t := &Table{Epoch: 1, Buckets: cfg.Buckets, Change: Change{Kind: "init", Actor: "system", Reason: "first start of the deployment", Time: now.UTC()}}
	for _, r := range cfg.Regions {
		t.Regions = append(t.Regions, Region{Name: r.Name})
	}
	for i, rg := range topo.Spread(cfg.Buckets, len(cfg.Cells)) {
		t.Cells = append(t.Cells, Cell{Name: cfg.Cells[i].Name, Region: cfg.Cells[i].Region})
		if rg.Len() > 0 {
			t.Spans = append(t.Spans, Span{First: rg.First, Last: rg.Last, Cell: cfg.Cells[i].Name, State: Serving})
		}
	}
	t.addGlobals(cfg)
	return t
}

// AddPlaces adds to t every region and cell of cfg that t lacks, owning
// no bucket (regions added to a running deployment: regionctl region
// add), and every global table it lacks, homed where cfg says, and
// returns their names; none when t has them all. Places and tables t has
// and cfg lacks stay: buckets and homes are moved by switches, not by a
// config.
func (t *Table) AddPlaces(cfg *config.Config) []string {
	var added []string
	for _, r := range cfg.Regions {
		if _, ok := t.Region(r.Name); !ok {
			t.Regions = append(t.Regions, Region{Name: r.Name})
			added = append(added, "region "+r.Name)
		}
	}
	for _, c := range cfg.Cells {
		if _, ok := t.Cell(c.Name); !ok {
			t.Cells = append(t.Cells, Cell{Name: c.Name, Region: c.Region})
			added = append(added, "cell "+c.Name)
		}
	}
	return append(added, t.addGlobals(cfg)...)
}

// Clone returns a deep copy of t to change.
func (t *Table) Clone() *Table {
	c := *t
	c.Regions = append([]Region(nil), t.Regions...)
	c.Cells = append([]Cell(nil), t.Cells...)
	c.Spans = append([]Span(nil), t.Spans...)
	c.Globals = append([]Global(nil), t.Globals...)
	return &c
}

// Cell returns the cell named name.
func (t *Table) Cell(name string) (Cell, bool) {
	for _, c := range t.Cells {
		if c.Name == name {
			return c, true
		}
	}
	return Cell{}, false
}

// Region returns the region named name.
func (t *Table) Region(name string) (Region, bool) {
	for _, r := range t.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// Owner returns what the table says of bucket b.
func (t *Table) Owner(b topo.Bucket) Owner {
	i := sort.Search(len(t.Spans), func(i int) bool { return t.Spans[i].Last >= b })
	if i == len(t.Spans) || t.Spans[i].First > b {
		return Owner{}
	}
	s := t.Spans[i]
	c, _ := t.Cell(s.Cell)
	return Owner{Cell: s.Cell, Region: c.Region, State: s.State, Switch: s.Switch}
}

// OwnsBuckets reports whether any bucket belongs to a cell of region.
func (t *Table) OwnsBuckets(region string) bool {
	for _, sp := range t.Spans {
		if c, ok := t.Cell(sp.Cell); ok && c.Region == region {
			return true
		}
	}
	return false
}

// Fenced returns the spans held write-forbidden by switch id.
func (t *Table) Fenced(id string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.State == WriteForbidden && s.Switch == id {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks that t is a table routers can serve: every bucket
// assigned exactly once, in order, to a cell that exists in a region that
// exists, with a known state. Errors name the bucket, cell or region.
func (t *Table) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if t.Epoch == 0 {
		bad("epoch: must be 1 or more")
	}
	if t.Buckets <= 0 {
		bad("buckets: must be positive, is %d", t.Buckets)
	}
	regions := map[string]bool{}
	for i, r := range t.Regions {
		switch {
		case r.Name == "":
			bad("regions[%d]: has no name", i)
		case regions[r.Name]:
			bad("regions[%d]: region %q is listed twice", i, r.Name)
		}
		regions[r.Name] = true
	}
	cells := map[string]bool{}
	for i, c := range t.Cells {
		switch {
		case c.Name == "":
			bad("cells[%d]: has no name", i)
		case cells[c.Name]:
			bad("cells[%d]: cell %q is listed twice", i, c.Name)
		case !regions[c.Region]:
			bad("cells[%d]: cell %q lives in region %q, which the table does not have", i, c.Name, c.Region)
		}
		cells[c.Name] = true
	}
	next := 0
	for i, s := range t.Spans {
		switch {
		case int(s.First) > next:
			bad("buckets %d-%d: assigned to no cell (spans[%d] starts at %d)", next, s.First-1, i, s.First)
		case int(s.First) < next:
			bad("bucket %d: assigned more than once (spans[%d] starts at %d, but buckets up to %d are already assigned)", s.First, i, s.First, next-1)
		}
		if s.Last < s.First {
			bad("spans[%d]: ends at bucket %d, before its start %d", i, s.Last, s.First)
		}
		if !cells[s.Cell] {
			bad("buckets %s: cell %q does not exist: use one of %s", topo.Range{First: s.First, Last: s.Last}, s.Cell, strings.Join(t.cellNames(), ", "))
		}
		switch s.State {
		case Serving:
			if s.Switch != "" {
				bad("buckets %s: serving, but held by switch %q", topo.Range{First: s.First, Last: s.Last}, s.Switch)
			}
		case WriteForbidden:
			if s.Switch == "" {
				bad("buckets %s: write-forbidden by no switch", topo.Range{First: s.First, Last: s.Last})
			}
		default:
			bad("buckets %s: state %q is not %s or %s", topo.Range{First: s.First, Last: s.Last}, s.State, Serving, WriteForbidden)
		}
		if int(s.Last)+1 > next {
			next = int(s.Last) + 1
		}
	}
	if t.Buckets > 0 && next < t.Buckets {
		bad("buckets %d-%d: assigned to no cell", next, t.Buckets-1)
	}
	if t.Buckets > 0 && next > t.Buckets {
		bad("buckets %d-%d: beyond the table's %d buckets", t.Buckets, next-1, t.Buckets)
	}
	t.validateGlobals(regions, bad)
	return errors.Join(errs...)
}

// RegionNames lists the table's regions in order.
func (t *Table) RegionNames() []string {
	out := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		out[i] = r.Name
	}
	return out
}

func (t *Table) cellNames() []string {
	out := make([]string, len(t.Cells))
	for i, c := range t.Cells {
		out[i] = c.Name
	}
	return out
}

// perBucket expands the spans to one entry per bucket.
func (t *Table) perBucket() []Span {
	out := make([]Span, t.Buckets)
	for _, s := range t.Spans {
		for b := int(s.First); b <= int(s.Last) && b < t.Buckets; b++ {
			out[b] = Span{First: topo.Bucket(b), Last: topo.Bucket(b), Cell: s.Cell, State: s.State, Switch: s.Switch}
		}
	}
	return out
}

// setSpans compresses one entry per bucket back into spans.
func (t *Table) setSpans(per []Span) {
	t.Spans = t.Spans[:0:0]
	for b, s := range per {
		if n := len(t.Spans); n > 0 {
			last := &t.Spans[n-1]
			if last.Cell == s.Cell && last.State == s.State && last.Switch == s.Switch {
				last.Last = topo.Bucket(b)
				continue
			}
		}
		s.First, s.Last = topo.Bucket(b), topo.Bucket(b)
		t.Spans = append(t.Spans, s)
	}
}

// Fence makes the buckets of ranges write-forbidden for switch id. It
// fails, naming the bucket, when one is already fenced or its cell lives
// in a fenced region.
func (t *Table) Fence(ranges []topo.Range, id string) error {
	per := t.perBucket()
	for _, r := range ranges {
		for b := int(r.First); b <= int(r.Last); b++ {
			if b >= len(per) {
				return fmt.Errorf("bucket %d: out of range: the table has buckets 0-%d", b, t.Buckets-1)
			}
			if per[b].State == WriteForbidden {
				return fmt.Errorf("bucket %d: already write-forbidden by switch %s: wait for it, or abort it with regionctl switch abort %s", b, per[b].Switch, per[b].Switch)
			}
			per[b].State, per[b].Switch = WriteForbidden, id
		}
	}
	t.setSpans(per)
	return nil
}

// Flip moves every bucket fenced by switch id to cell, and the home of
// every global table it fences to cell's region, and serves them again.
func (t *Table) Flip(id, cell string) error {
	c, ok := t.Cell(cell)
	if !ok {
		return fmt.Errorf("cell %q does not exist: use one of %s", cell, strings.Join(t.cellNames(), ", "))
	}
	if r, _ := t.Region(c.Region); r.Fenced {
		return fmt.Errorf("cell %s lives in region %s, which is fenced (%s): buckets cannot move into it", cell, c.Region, r.Reason)
	}
	per := t.perBucket()
	for b := range per {
		if per[b].State == WriteForbidden && per[b].Switch == id {
			per[b] = Span{Cell: cell, State: Serving}
		}
	}
	t.setSpans(per)
	t.flipGlobals(id, c.Region)
	return nil
}

// Unfence serves every bucket and global table fenced by switch id
// again, in its old cell or home.
func (t *Table) Unfence(id string) {
	per := t.perBucket()
	for b := range per {
		if per[b].State == WriteForbidden && per[b].Switch == id {
			per[b].State, per[b].Switch = Serving, ""
		}
	}
	t.setSpans(per)
	t.unfenceGlobals(id)
}

// FenceRegion fences region name: none of its cells' buckets accepts a
// write, whatever the routers hear later from that region.
func (t *Table) FenceRegion(name, reason string) error {
	for i := range t.Regions {
		if t.Regions[i].Name == name {
			t.Regions[i].Fenced, t.Regions[i].Reason = true, reason
			return nil
		}
	}
	return fmt.Errorf("region %q is not in the routing table", name)
}

// UnfenceRegion lets region name take writes (and buckets) again.
func (t *Table) UnfenceRegion(name string) error {
	for i := range t.Regions {
		if t.Regions[i].Name == name {
			t.Regions[i].Fenced, t.Regions[i].Reason = false, ""
			return nil
		}
	}
	return fmt.Errorf("region %q is not in the routing table", name)
}

// MoveRegion gives every bucket whose cell lives in region from to cell,
// and every global table homed in from to cell's region, serving,
// without a switch's fence and wait: what a forced failover does once
// from is fenced. Fences of switches on those buckets and tables are
// dropped (their switches then find nothing to flip and abort). It
// returns how many buckets moved.
func (t *Table) MoveRegion(from, cell string) (int, error) {
	c, ok := t.Cell(cell)
	if !ok {
		return 0, fmt.Errorf("cell %q does not exist: use one of %s", cell, strings.Join(t.cellNames(), ", "))
	}
	if r, _ := t.Region(c.Region); r.Fenced {
		return 0, fmt.Errorf("cell %s lives in region %s, which is fenced (%s): buckets cannot move into it", cell, c.Region, r.Reason)
	}
	per := t.perBucket()
	n := 0
	for b := range per {
		if o, _ := t.Cell(per[b].Cell); o.Region == from {
			per[b] = Span{Cell: cell, State: Serving}
			n++
		}
	}
	t.setSpans(per)
	for i, g := range t.Globals {
		if g.Home == from {
			t.Globals[i] = Global{Table: g.Table, Home: c.Region, State: Serving}
		}
	}
	return n, nil
}
