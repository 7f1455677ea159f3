package failover

import (
	"log/slog"
	"sync"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/controller"
)

// Gate answers a link's applier, from the controller's state, whether
// its source region's stream is held (a forced failover took the region
// out: its later transactions are the RPO and wait for the failback) and
// which of its transactions a failback discarded.
type Gate struct {
	node           *controller.Node
	source, flavor string
	log            *slog.Logger

	mu      sync.Mutex
	discard string       // the state's Discarded that set was parsed from
	set     *rpo.LostSet // nil: nothing discarded
}

var _ apply.Gate = (*Gate)(nil)

// NewGate returns the gate of the links from source (whose MySQL has
// flavor) as node's state says.
func NewGate(node *controller.Node, source, flavor string, log *slog.Logger) *Gate {
	return &Gate{node: node, source: source, flavor: flavor, log: log}
}

// Held implements apply.Gate.
func (g *Gate) Held() bool {
	return g.node.Region(g.source).HeldBy != ""
}

// Discarded implements apply.Gate.
func (g *Gate) Discarded(gtid string) bool {
	cur := g.node.Region(g.source).Discarded
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur != g.discard {
		g.discard, g.set = cur, nil
		if cur != "" {
			set, err := rpo.ParseLost(g.flavor, cur)
			if err != nil {
				g.log.Error("controller: a region's discarded GTID set does not parse; nothing is discarded", "region", g.source, "set", cur, "err", err)
			} else {
				g.set = set
			}
		}
	}
	return g.set != nil && g.set.Has(gtid)
}
