package router

import (
	"fmt"
	"strings"

	"github.com/regionplatform/region/config"
)

// Global is a global table in the routing table: written only in its
// home region, read from a copy everywhere. Its home moves with a traffic
// switch (fence, wait, flip), like a bucket.
type Global struct {
	// Table is "db.table".
	Table string `json:"table"`
	// Home is the only region that may write the table.
	Home string `json:"home"`
	// State is Serving or WriteForbidden (a switch moving its home).
	State string `json:"state"`
	// Switch is the id of the switch holding a WriteForbidden table.
	Switch string `json:"switch,omitempty"`
}

// Global returns the global table named table ("db.table").
func (t *Table) Global(table string) (Global, bool) {
	for _, g := range t.Globals {
		if g.Table == table {
			return g, true
		}
	}
	return Global{}, false
}

// GlobalsHomedIn lists the global tables whose home is region.
func (t *Table) GlobalsHomedIn(region string) []string {
	var out []string
	for _, g := range t.Globals {
		if g.Home == region {
			out = append(out, g.Table)
		}
	}
	return out
}

// addGlobals adds the global tables of cfg that t lacks, homed where the
// config says, and returns what it added.
func (t *Table) addGlobals(cfg *config.Config) []string {
	var added []string
	for _, g := range cfg.Replication.Globals() {
		if _, ok := t.Global(g.Name); !ok {
			t.Globals = append(t.Globals, Global{Table: g.Name, Home: g.Home, State: Serving})
			added = append(added, "global "+g.Name+" (home "+g.Home+")")
		}
	}
	return added
}

// globalNames lists the global tables' names.
func (t *Table) globalNames() []string {
	out := make([]string, len(t.Globals))
	for i, g := range t.Globals {
		out[i] = g.Table
	}
	return out
}

// FenceGlobals makes the global tables named write-forbidden for switch
// id. It fails, naming the table, when one is unknown or already fenced.
func (t *Table) FenceGlobals(tables []string, id string) error {
	for _, name := range tables {
		i := t.globalIndex(name)
		switch {
		case i < 0:
			return fmt.Errorf("table %s: not a global table of the routing table: use one of %s", name, strings.Join(t.globalNames(), ", "))
		case t.Globals[i].State == WriteForbidden:
			return fmt.Errorf("table %s: already write-forbidden by switch %s: wait for it, or abort it with regionctl switch abort %s", name, t.Globals[i].Switch, t.Globals[i].Switch)
		}
		t.Globals[i].State, t.Globals[i].Switch = WriteForbidden, id
	}
	return nil
}

func (t *Table) globalIndex(name string) int {
	for i, g := range t.Globals {
		if g.Table == name {
			return i
		}
	}
	return -1
}

// Holds reports whether switch id holds any bucket or global table
// write-forbidden.
func (t *Table) Holds(id string) bool {
	if len(t.Fenced(id)) > 0 {
		return true
	}
	for _, g := range t.Globals {
		if g.State == WriteForbidden && g.Switch == id {
			return true
		}
	}
	return false
}

// flipGlobals homes every global table fenced by switch id in region and
// serves it again.
func (t *Table) flipGlobals(id, region string) {
	for i, g := range t.Globals {
		if g.State == WriteForbidden && g.Switch == id {
			t.Globals[i] = Global{Table: g.Table, Home: region, State: Serving}
		}
	}
}

// unfenceGlobals serves every global table fenced by switch id again,
// in its old home.
func (t *Table) unfenceGlobals(id string) {
	for i, g := range t.Globals {
		if g.State == WriteForbidden && g.Switch == id {
			t.Globals[i].State, t.Globals[i].Switch = Serving, ""
		}
	}
}

// validateGlobals adds the problems of t's global tables to bad.
func (t *Table) validateGlobals(regions map[string]bool, bad func(string, ...any)) {
	seen := map[string]bool{}
	for i, g := range t.Globals {
		switch {
		case g.Table == "" || !strings.Contains(g.Table, "."):
			bad("globals[%d]: table %q is not db.table", i, g.Table)
		case seen[g.Table]:
			bad("globals[%d]: table %s is listed twice", i, g.Table)
		}
		seen[g.Table] = true
		if !regions[g.Home] {
			bad("globals[%d]: table %s has its home in region %q, which the table does not have", i, g.Table, g.Home)
		}
		switch g.State {
		case Serving:
			if g.Switch != "" {
				bad("globals[%d]: table %s is serving, but held by switch %q", i, g.Table, g.Switch)
			}
		case WriteForbidden:
			if g.Switch == "" {
				bad("globals[%d]: table %s is write-forbidden by no switch", i, g.Table)
			}
		default:
			bad("globals[%d]: table %s: state %q is not %s or %s", i, g.Table, g.State, Serving, WriteForbidden)
		}
	}
}

// GlobalRoute is what a router says of a global table.
type GlobalRoute struct {
	Table string
	// Home is the region that writes the table, Endpoint its address.
	Home     string
	Endpoint string
	// WriteForbidden: a switch moving the home fences the table, the home
	// region is fenced, or the router is cut off from etcd.
	WriteForbidden bool
	Epoch          uint64
}

// Global answers where global table ("db.table") is written. ok is false
// before the first table is loaded and for a table that is not global.
func (r *Router) Global(table string) (GlobalRoute, bool) {
	s := r.snap.Load()
	if s == nil {
		return GlobalRoute{}, false
	}
	g, ok := s.table.Global(table)
	if !ok {
		return GlobalRoute{}, false
	}
	home, _ := s.table.Region(g.Home)
	return GlobalRoute{Table: g.Table, Home: g.Home, Endpoint: r.cfg.Endpoints[g.Home],
		WriteForbidden: s.stale || g.State == WriteForbidden || home.Fenced, Epoch: s.table.Epoch}, true
}
