package api

import (
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/failover/liveness"
)

// ControllerStatus is the body of GET /v1/controller.
type ControllerStatus struct {
	Node    failover.Status         `json:"node"`
	Members []liveness.MemberInfo   `json:"members"`
	Regions []liveness.RegionStatus `json:"regions"`
	State   *failover.State         `json:"state"`
}

// VoterRequest is the body of POST /v1/controller/voters.
type VoterRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}
