package controller

import (
	"encoding/json"
	"maps"
	"time"
)

// State is the controller's replicated state: what every regiond agrees on
// through Raft. The FSM owns the live copy; Node.State returns a deep copy
// that callers may read and modify freely. Every field is JSON so that
// `regionctl controller status` and snapshots can print or store it as is.
type State struct {
	// Regions by name.
	Regions map[string]Region `json:"regions"`
	// Cells by name: where each cell's writes go and where they fail over to.
	Cells map[string]Placement `json:"cells"`
	// Failovers by id, planned and forced, active and finished.
	Failovers map[string]FailoverRecord `json:"failovers"`
	// Drills by id.
	Drills map[string]DrillRecord `json:"drills"`
	// Schedules of drill plans by plan name.
	Schedules map[string]DrillSchedule `json:"schedules"`
	// Rebuilds of regions' data by id (regionctl region rebuild).
	Rebuilds map[string]RebuildRecord `json:"rebuilds"`
}

// Region is what the controller knows of one region.
type Region struct {
	Name string `json:"name"`
	// Fenced regions take no writes until an operator unfences them.
	Fenced      bool      `json:"fenced"`
	FenceReason string    `json:"fence_reason,omitempty"`
	FencedAt    time.Time `json:"fenced_at,omitzero"`
	FencedBy    string    `json:"fenced_by,omitempty"`
	// FailedAt is when the region was last declared failed.
	FailedAt     time.Time `json:"failed_at,omitzero"`
	FailedReason string    `json:"failed_reason,omitempty"`
	// CooldownUntil: no automatic action on this region before then
	// (anti-flapping); operators may still act.
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	// ReturnedAt is when the region was last seen back after a failure.
	// A returned region stays fenced.
	ReturnedAt time.Time `json:"returned_at,omitzero"`
	// HeldBy is the forced failover that holds the region's replication
	// stream: no other region applies its transactions until a failback
	// releases it (its transactions after the failover are the RPO, not
	// to be applied over the survivor's newer writes).
	HeldBy string `json:"held_by,omitempty"`
	// Discarded is the GTID set of the region's transactions that
	// failbacks discarded (the RPOs): appliers skip them.
	Discarded string `json:"discarded,omitempty"`
}

// Placement is where a cell lives.
type Placement struct {
	Cell    string    `json:"cell"`
	Home    string    `json:"home"`
	Standby string    `json:"standby"`
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"`
}

// Failover kinds.
const (
	KindPlanned = "planned"
	KindForced  = "forced"
)

// Failover states. A failover is started by failover.begin, running after
// its first failover.step, and done or rolled-back after failover.end.
const (
	FailoverStarted    = "started"
	FailoverRunning    = "running"
	FailoverDone       = "done"
	FailoverRolledBack = "rolled-back"
)

// FailoverRecord is the history of one failover of a region to another.
type FailoverRecord struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	From      string         `json:"from"`
	To        string         `json:"to"`
	State     string         `json:"state"`
	Reason    string         `json:"reason,omitempty"`
	Actor     string         `json:"actor,omitempty"`
	StartedAt time.Time      `json:"started_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	EndedAt   time.Time      `json:"ended_at,omitzero"`
	Steps     []FailoverStep `json:"steps,omitempty"`
	RPO       RPO            `json:"rpo"`
	// AcceptRPO: the promotion guard was overridden (forced failovers).
	AcceptRPO bool `json:"accept_rpo,omitempty"`
	// Undoes is the failover this one (a failback) undoes.
	Undoes string `json:"undoes,omitempty"`
}

// Active reports whether the failover has not ended.
func (f FailoverRecord) Active() bool {
	return f.State == FailoverStarted || f.State == FailoverRunning
}

// FailoverStep is one step of a failover as the leader reported it.
type FailoverStep struct {
	Name   string    `json:"name"`
	Result string    `json:"result"` // ok or failed
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// RPO is what a failover lost: the source transactions acknowledged in the
// failed region but not applied in the survivor. Pending is true until it
// is known (for example while the failed region's binlog is unreachable).
type RPO struct {
	Pending         bool   `json:"pending"`
	LastAppliedGTID string `json:"last_applied_gtid,omitempty"`
	LostGTIDs       string `json:"lost_gtids,omitempty"`
	LostCount       int64  `json:"lost_count"`
	// Changes are the row changes of the first lost transactions, e.g.
	// "1-1-104 insert lending.ledger_entries id=77": the rows that diverge
	// in the failed region (capped; LostCount counts every transaction).
	Changes []string `json:"changes,omitempty"`
	// Uncounted, when set, says what is lost beyond LostCount and cannot
	// be counted: the failed region's data was lost and rebuilt, so what
	// it committed and never published is gone (cdc/rpo).
	Uncounted string `json:"uncounted,omitempty"`
	// Others is, for every other region that survived (three regions or
	// more), what it lacked of the failed region when its stream was
	// held: it may have applied more or less than the region that took
	// the buckets, and the failback makes the rows that differ so the
	// latter's.
	Others map[string]SurvivorRPO `json:"others,omitempty"`
}

// SurvivorRPO is what one more surviving region lacked of the failed
// region's transactions (RPO.Others).
type SurvivorRPO struct {
	LastAppliedGTID string `json:"last_applied_gtid,omitempty"`
	LostGTIDs       string `json:"lost_gtids,omitempty"`
	LostCount       int64  `json:"lost_count"`
}

// Drill outcomes, as in the drill report, and DrillRunning for a drill
// that a leader started (drill.start) and has not recorded yet.
const (
	DrillRunning          = "running"
	DrillPassed           = "passed"
	DrillPassedConditions = "passed-with-conditions"
	DrillFailed           = "failed"
)

// DrillRecord is one drill run: running, or finished with its outcome.
type DrillRecord struct {
	ID        string    `json:"id"`
	Plan      string    `json:"plan"`
	Scenario  string    `json:"scenario,omitempty"`
	Outcome   string    `json:"outcome"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Report    string    `json:"report,omitempty"` // where the report is stored
	Actor     string    `json:"actor,omitempty"`
	// Summary is the report's one-line verdict (what failed, if anything).
	Summary string `json:"summary,omitempty"`
	// Runner is the controller node that runs a scheduled drill.
	Runner string `json:"runner,omitempty"`
}

// DrillSchedule runs a drill plan on a cron schedule (five fields:
// minute hour day-of-month month day-of-week, in UTC, or a descriptor
// such as @monthly; see ParseCron).
type DrillSchedule struct {
	Plan      string    `json:"plan"`
	Cron      string    `json:"cron"`
	Enabled   bool      `json:"enabled"`
	LastRun   time.Time `json:"last_run,omitzero"`
	LastDrill string    `json:"last_drill,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	By        string    `json:"by,omitempty"`
	// PlanYAML is the plan itself, so that whichever node leads can run it.
	PlanYAML string `json:"plan_yaml,omitempty"`
}

func newState() *State {
	return &State{
		Regions:   map[string]Region{},
		Cells:     map[string]Placement{},
		Failovers: map[string]FailoverRecord{},
		Drills:    map[string]DrillRecord{},
		Schedules: map[string]DrillSchedule{},
		Rebuilds:  map[string]RebuildRecord{},
	}
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := newState()
	for k, v := range s.Regions {
		c.Regions[k] = v
	}
	for k, v := range s.Cells {
		c.Cells[k] = v
	}
	for k, v := range s.Failovers {
		v.Steps = append([]FailoverStep(nil), v.Steps...)
		v.RPO.Others = maps.Clone(v.RPO.Others)
		c.Failovers[k] = v
	}
	for k, v := range s.Drills {
		c.Drills[k] = v
	}
	for k, v := range s.Schedules {
		c.Schedules[k] = v
	}
	for k, v := range s.Rebuilds {
		v.Kept = append([]string(nil), v.Kept...)
		c.Rebuilds[k] = v
	}
	return c
}

// ActiveFailover returns the failover in progress that involves region, if
// any.
func (s *State) ActiveFailover(region string) (FailoverRecord, bool) {
	for _, f := range s.Failovers {
		if f.Active() && (f.From == region || f.To == region) {
			return f, true
		}
	}
	return FailoverRecord{}, false
}

// decodeState reads a snapshot; missing maps are made empty.
func decodeState(b []byte) (*State, error) {
	s := newState()
	if err := json.Unmarshal(b, s); err != nil {
		return nil, err
	}
	if s.Regions == nil {
		s.Regions = map[string]Region{}
	}
	if s.Cells == nil {
		s.Cells = map[string]Placement{}
	}
	if s.Failovers == nil {
		s.Failovers = map[string]FailoverRecord{}
	}
	if s.Drills == nil {
		s.Drills = map[string]DrillRecord{}
	}
	if s.Schedules == nil {
		s.Schedules = map[string]DrillSchedule{}
	}
	if s.Rebuilds == nil {
		s.Rebuilds = map[string]RebuildRecord{} // a snapshot from before rebuilds were recorded
	}
	return s, nil
}
