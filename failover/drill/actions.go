package drill

import (
	"context"
	"errors"
	"time"
)

// Actions is what a drill needs from the platform: checks, the three
// region moves and the client-side ledger. The controller implements it
// (regiond wires it); tests use a small in-process implementation.
//
// Concurrency: the Runner calls one method at a time, in plan order. A
// method returns when its action has finished (or failed); an error means
// the action could not be carried out or measured, not that a criterion
// was missed (the Runner judges those).
type Actions interface {
	// Precheck measures replication lag per link and, when
	// spec.Checksums, compares every table's checksum across regions.
	Precheck(ctx context.Context, spec PrecheckSpec) (PrecheckResult, error)
	// Switchover moves every cell of region to `to` (or to each cell's
	// standby when to is "") as a planned failover: fence, catch up, flip.
	Switchover(ctx context.Context, region, to string) (SwitchoverResult, error)
	// Failover injects the fault (mode ModeKill or ModeFence) into region
	// and lets the controller detect it and force its cells over.
	Failover(ctx context.Context, region, to, mode string) (FailoverResult, error)
	// Rebuild copies every replicated table into region, which a
	// kill-mode failover stopped, from donor (as regionctl region rebuild
	// does), and leaves the region's regiond stopped for the failback.
	Rebuild(ctx context.Context, region, donor string) (RebuildResult, error)
	// Failback brings region back (restart or unfence, catch up) and moves
	// its cells home.
	Failback(ctx context.Context, region string) (FailbackResult, error)
	// Ledger checks the client-side ledger of acknowledged writes, kept
	// since the drill began, against what arrived in every region.
	// It returns ErrNoLedger when the deployment has no ledger source:
	// the drill then passes at best with conditions.
	Ledger(ctx context.Context) (LedgerResult, error)
}

// PrecheckSpec says what a pre- or post-check measures.
type PrecheckSpec struct {
	// Checksums asks for per-table checksums across regions.
	Checksums bool `json:"checksums"`
}

// PrecheckResult is the state of replication at one moment.
type PrecheckResult struct {
	// Links is the lag of every replication link.
	Links []LinkLag `json:"links"`
	// Tables is the checksum comparison (empty unless asked for).
	Tables []TableChecksum `json:"tables,omitempty"`
}

// LinkLag is one replication link's lag (proven from applied GTIDs and
// heartbeats).
type LinkLag struct {
	From string        `json:"from"`
	To   string        `json:"to"`
	Lag  time.Duration `json:"lag_ns"`
}

// TableChecksum is one table's checksum in every region.
type TableChecksum struct {
	Table string `json:"table"`
	// Checksums by region.
	Checksums map[string]string `json:"checksums"`
	// Equal is true when every region has the same checksum.
	Equal bool `json:"equal"`
}

// CellResult is what one cell went through in a switchover, failover or
// failback.
type CellResult struct {
	Cell string `json:"cell"`
	From string `json:"from"`
	To   string `json:"to"`
	// WriteForbidden is how long the cell's users could not write.
	WriteForbidden time.Duration `json:"write_forbidden_ns"`
	// RTO is fault injected (or step start) -> the cell's users can write.
	RTO time.Duration `json:"rto_ns"`
	// RPO is the cell's acknowledged transactions lost.
	RPO int64 `json:"rpo"`
}

// Event is an entry of the timeline an action reports (the runner adds
// its own).
type Event struct {
	At time.Time `json:"at"`
	// Action is what happened, e.g. "region b fenced in etcd".
	Action string `json:"action"`
	// Actor is who did it: "drill runner", "controller", "operator alice".
	Actor string `json:"actor"`
	// Result is "ok", "failed" or a short figure.
	Result string `json:"result"`
}

// SwitchoverResult measures a planned switchover.
type SwitchoverResult struct {
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// WriteForbidden is the longest window in which any user's writes
	// were refused.
	WriteForbidden time.Duration `json:"write_forbidden_ns"`
	// RPO is the transactions lost (0 unless something is wrong).
	RPO    int64        `json:"rpo"`
	Cells  []CellResult `json:"cells,omitempty"`
	Events []Event      `json:"events,omitempty"`
}

// FailoverResult measures a forced failover.
type FailoverResult struct {
	// FaultAt is when the fault was injected.
	FaultAt time.Time `json:"fault_at"`
	// DetectedAt is when the controller declared the region failed.
	DetectedAt time.Time `json:"detected_at"`
	// RestoredAt is when every affected user could write again.
	RestoredAt time.Time `json:"restored_at"`
	// RPO is the count of transactions acknowledged in the failed region
	// and not applied in the survivor; LostGTIDs names them.
	RPO       int64  `json:"rpo"`
	LostGTIDs string `json:"lost_gtids,omitempty"`
	// RPOPending is true when the RPO could not be counted yet (the failed
	// region's binlog is unreachable); PendingReason says why.
	RPOPending    bool         `json:"rpo_pending"`
	PendingReason string       `json:"pending_reason,omitempty"`
	Cells         []CellResult `json:"cells,omitempty"`
	Events        []Event      `json:"events,omitempty"`
}

// FailbackResult measures a failback.
type FailbackResult struct {
	StartedAt time.Time `json:"started_at"`
	// RestoredAt is when every cell was home and writable.
	RestoredAt time.Time `json:"restored_at"`
	// WriteForbidden is the longest window of refused writes.
	WriteForbidden time.Duration `json:"write_forbidden_ns"`
	Cells          []CellResult  `json:"cells,omitempty"`
	Events         []Event       `json:"events,omitempty"`
}

// RebuildResult is what a rebuild step copied.
type RebuildResult struct {
	StartedAt time.Time `json:"started_at"`
	// CopiedAt is when the last table was copied.
	CopiedAt time.Time `json:"copied_at"`
	Tables   int       `json:"tables"`
	Rows     int64     `json:"rows"`
	Events   []Event   `json:"events,omitempty"`
}

// LedgerResult is the client-side ledger checked against what arrived.
type LedgerResult struct {
	// Acknowledged is the writes the clients saw acknowledged.
	Acknowledged int64 `json:"acknowledged"`
	// Missing is acknowledged writes found in no region (or not in all).
	Missing int64 `json:"missing"`
	// Duplicated is writes whose effect arrived more than once.
	Duplicated int64 `json:"duplicated"`
	// ExplainedByRPO is the part of Missing that a forced failover
	// reported as lost (its RPO).
	ExplainedByRPO int64 `json:"explained_by_rpo"`
	// Samples names a few missing or duplicated writes, for the report.
	Samples []string `json:"samples,omitempty"`
}

// ErrNoLedger is what Actions.Ledger returns when there is no client-side
// ledger to check (a drill outside the lab runs no load of its own).
var ErrNoLedger = errors.New("no client-side ledger")
