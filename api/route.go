package api

import (
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// RouteAnswer is the body of GET /v1/route?user=ID.
type RouteAnswer struct {
	User           string      `json:"user"`
	Bucket         topo.Bucket `json:"bucket"`
	Cell           string      `json:"cell"`
	Region         string      `json:"region"`
	WriteForbidden bool        `json:"write_forbidden"`
	Epoch          uint64      `json:"epoch"`
}

// RoutesAnswer is the body of GET /v1/routes.
type RoutesAnswer struct {
	Table   *router.Table `json:"table"`
	Routers []router.Info `json:"routers"`
}

// HistoryAnswer is the body of GET /v1/routes/history.
type HistoryAnswer struct {
	Versions []TableVersion `json:"versions"`
}

// TableVersion is one routing table version in the history.
type TableVersion struct {
	Epoch  uint64        `json:"epoch"`
	Change router.Change `json:"change"`
	// Cells counts the buckets each cell owned; Fenced the write-forbidden ones.
	Cells  map[string]int `json:"cells"`
	Fenced int            `json:"fenced"`
}

// RollbackRequest is the body of POST /v1/routes/rollback.
type RollbackRequest struct {
	ToEpoch uint64 `json:"to_epoch"`
	Reason  string `json:"reason"`
}

// SwitchesAnswer is the body of GET /v1/switches.
type SwitchesAnswer struct {
	Active  []traffic.Record `json:"active"`
	History []traffic.Record `json:"history"`
}

// AbortRequest is the body of POST /v1/switches/{id}/abort.
type AbortRequest struct {
	Reason string `json:"reason"`
}

// Freshness is the body of GET /v1/freshness/{from}: how old region
// From's data in region To may be, for a bounded read (docs/consistency.md).
type Freshness struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Known: To has applied a sample of From's position, StalenessSeconds
	// old; false while its link does not apply or until the first sample
	// (taken while bounded reads come in) is applied: read from From.
	Known            bool    `json:"known"`
	StalenessSeconds float64 `json:"staleness_seconds"`
}
