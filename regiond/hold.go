package regiond

import (
	"sync"

	"github.com/regionplatform/region/cdc/rpo"
)

// streamGate answers a link's applier, from the controller's state,
// whether its source region's stream is held (a forced failover took the
// region out: its later transactions are the RPO and wait for the
// failback) and which of its transactions a failback discarded.
type streamGate struct {
	d              *Daemon
	source, flavor string

	mu      sync.Mutex
	discard string       // the state's Discarded that set was parsed from
	set     *rpo.LostSet // nil: nothing discarded
}

// Held implements apply.Config.Held.
func (g *streamGate) Held() bool {
	return g.d.ctl != nil && g.d.ctl.node.Region(g.source).HeldBy != ""
}

// Discarded implements apply.Config.Discarded.
func (g *streamGate) Discarded(gtid string) bool {
	if g.d.ctl == nil {
		return false
	}
	cur := g.d.ctl.node.Region(g.source).Discarded
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur != g.discard {
		g.discard, g.set = cur, nil
		if cur != "" {
			set, err := rpo.ParseLost(g.flavor, cur)
			if err != nil {
				g.d.log.Error("controller: a region's discarded GTID set does not parse; nothing is discarded", "region", g.source, "set", cur, "err", err)
			} else {
				g.set = set
			}
		}
	}
	return g.set != nil && g.set.Has(gtid)
}
