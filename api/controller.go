package api

import (
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/liveness"
)

// ControllerStatus is the body of GET /v1/controller.
type ControllerStatus struct {
	Node    controller.Status       `json:"node"`
	Members []liveness.MemberInfo   `json:"members"`
	Regions []liveness.RegionStatus `json:"regions"`
	State   *controller.State       `json:"state"`
}

// VoterRequest is the body of POST /v1/controller/voters.
type VoterRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}
