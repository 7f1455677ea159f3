package api

import (
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/router/gateway"
	"github.com/regionplatform/region/verify"
)

// Status is the body of GET /v1/status.
type Status struct {
	Deployment string        `json:"deployment"`
	Region     string        `json:"region"`
	Version    string        `json:"version"`
	Started    time.Time     `json:"started"`
	Uptime     float64       `json:"uptime_seconds"`
	Healthy    bool          `json:"healthy"`
	Checks     []CheckResult `json:"checks"`
	Cells      []CellStatus  `json:"cells"`
	// Capture is this region's capture; Links are the inbound links.
	Capture capture.Stats      `json:"capture"`
	Links   []apply.LinkStatus `json:"links"`
	// Verify is the last continuous verification pass (nil: none yet).
	Verify *verify.Pass `json:"verify,omitempty"`
	// MySQLReadOnly is what regiond last set of its MySQL's read_only, as
	// the controller says: "off", "on: why", or "" before it decided.
	MySQLReadOnly string `json:"mysql_read_only,omitempty"`
	// Reads are the reads this region's gateway served by consistency
	// level (nil: the region runs no gateway).
	Reads *gateway.ReadStats `json:"reads,omitempty"`
}

// CellStatus is a cell homed in or standing by for this region.
type CellStatus struct {
	Name    string `json:"name"`
	Region  string `json:"region"`
	Standby string `json:"standby"`
}

// CheckResult is the last outcome of one dependency check.
type CheckResult struct {
	Name      string    `json:"name"`
	OK        bool      `json:"ok"`
	Error     string    `json:"error,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
	Checked   time.Time `json:"checked"`
}

// RegionStatus is one region's part of an Overview: its status, or why
// its regiond could not be asked.
type RegionStatus struct {
	Region string  `json:"region"`
	API    string  `json:"api"`
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Overview is every region's status at once, as `regionctl status` and
// the console's GET /v1/overview show it.
type Overview struct {
	Deployment string         `json:"deployment"`
	Regions    []RegionStatus `json:"regions"`
}

// Healthy is true when every region answers with healthy dependencies,
// a running capture and running links.
func (o *Overview) Healthy() bool {
	for _, r := range o.Regions {
		if r.Error != "" || r.Status == nil || !r.Status.Healthy || !r.Status.Capture.Running {
			return false
		}
		for _, l := range r.Status.Links {
			if l.State != apply.StateRunning {
				return false
			}
		}
	}
	return true
}

// CaughtUp is true when every link has applied all its source published.
func (o *Overview) CaughtUp() bool {
	for _, r := range o.Regions {
		if r.Status == nil {
			return false
		}
		for _, l := range r.Status.Links {
			if l.LagTxns > 0 || l.AppliedSeq < l.PublishedSeq {
				return false
			}
		}
	}
	return true
}

// LinkView is the body of GET /v1/links/{from}: an inbound link of the
// answering regiond and every message an operator skipped on it.
type LinkView struct {
	Link       apply.LinkStatus    `json:"link"`
	Quarantine []apply.Quarantined `json:"quarantine"`
}

// AppliedView is the body of GET /v1/links/{from}/applied: the link, and
// whether its applied watermark covers the GTID set asked for (the
// answer comes once it does, or once the wait asked for is over, or at
// once when the link is not running).
type AppliedView struct {
	Link    apply.LinkStatus `json:"link"`
	Covered bool             `json:"covered"`
}

// MaxAppliedWait bounds the wait of GET /v1/links/{from}/applied.
const MaxAppliedWait = 10 * time.Second

// RetryRequest is the body of POST /v1/links/{from}/retry.
type RetryRequest struct {
	Reason string `json:"reason"`
}

// RetryAnswer says which halted partitions started again.
type RetryAnswer struct {
	Partitions []int32 `json:"partitions"`
}

// PauseRequest is the body of POST /v1/links/{from}/pause and
// /v1/links/{from}/resume; both answer the link's apply.LinkStatus.
type PauseRequest struct {
	Reason string `json:"reason"`
}

// SkipRequest is the body of POST /v1/links/{from}/skip: move halted
// Partition past the message it halted on, keeping it in quarantine.
type SkipRequest struct {
	Partition int32  `json:"partition"`
	Reason    string `json:"reason"`
}

// ResolveRequest is the body of POST
// /v1/links/{from}/quarantine/{id}/resolve.
type ResolveRequest struct {
	Resolution string `json:"resolution"`
}
