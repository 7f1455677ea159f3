package api

import (
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router/traffic"
)

// FailoverRequest is the body of POST /v1/failovers.
type FailoverRequest struct {
	// From is the region whose cells move out; To where they go (default:
	// the standby region of From's cells).
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// Kind is planned (a traffic switch of every bucket: RPO 0) or forced.
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	// AcceptRPO overrides the promotion guard (controller.rpo_budget) of a
	// forced failover: go ahead whatever the survivor still lacks.
	AcceptRPO bool `json:"accept_rpo,omitempty"`
}

// FailoverReport is what a failover did.
type FailoverReport struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	From string `json:"from"`
	To   string `json:"to"`
	// State is done or rolled-back.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Switches are the traffic switches of a planned failover.
	Switches []traffic.Record `json:"switches,omitempty"`
	// WriteForbiddenMS is the longest any bucket could not be written.
	WriteForbiddenMS int64 `json:"write_forbidden_ms"`
	DurationMS       int64 `json:"duration_ms"`
	// RPO is what the survivor never applied (0 for planned).
	RPO controller.RPO `json:"rpo"`
}

// FailoversAnswer is the body of GET /v1/failovers: the controller's
// failover history, newest first.
type FailoversAnswer struct {
	Failovers []controller.FailoverRecord `json:"failovers"`
}

// FailbackRequest is the body of POST /v1/failbacks.
type FailbackRequest struct {
	// To is the region to bring back: the From of its last failover.
	To     string `json:"to"`
	Reason string `json:"reason"`
}
