package drill

import (
	"time"

	"github.com/regionplatform/region/controller"
)

// Outcome is a drill's overall result. The values are those the
// controller records (controller.DrillPassed ...).
type Outcome string

// Outcomes.
const (
	// Passed: every criterion met, the ledger exact.
	Passed Outcome = controller.DrillPassed
	// PassedWithConditions: every critical criterion met, but a
	// non-critical one missed (a postcheck lag) or a figure is still
	// pending (a forced failover's RPO count). The reasons say which.
	PassedWithConditions Outcome = controller.DrillPassedConditions
	// Failed: a critical criterion missed, a step errored, a precheck
	// aborted the drill, or the ledger found unexplained loss or
	// duplication.
	Failed Outcome = controller.DrillFailed
)

// Title is the outcome as the report prints it.
func (o Outcome) Title() string {
	switch o {
	case Passed:
		return "Passed"
	case PassedWithConditions:
		return "Passed with conditions"
	case Failed:
		return "Failed"
	}
	return string(o)
}

// Criterion and step statuses.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusWarn    = "warn"    // a non-critical criterion missed
	StatusPending = "pending" // not measurable yet (RPO count)
	StatusSkipped = "skipped" // step not run
)

// Report is the audit record of one drill run.
type Report struct {
	DrillID     string `json:"drill_id"`
	Plan        string `json:"plan"`
	Description string `json:"description,omitempty"`
	// Type lists the kinds of region move drilled, e.g. "planned
	// switchover + forced failover".
	Type        string    `json:"type"`
	Scenario    string    `json:"scenario"`
	Environment string    `json:"environment"`
	Mode        string    `json:"mode"`
	Operator    string    `json:"operator"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	DurationMS  int64     `json:"duration_ms"`
	Outcome     Outcome   `json:"outcome"`
	// Reasons explain the outcome, most serious first.
	Reasons      []string     `json:"reasons"`
	Steps        []StepReport `json:"steps"`
	Timeline     []Event      `json:"timeline"`
	Observations []string     `json:"observations"`
	Ledger       *LedgerCheck `json:"ledger,omitempty"`
}

// StepReport is one step as run and measured.
type StepReport struct {
	Index      int       `json:"index"`
	Kind       string    `json:"kind"`
	Region     string    `json:"region,omitempty"`
	To         string    `json:"to,omitempty"`
	Donor      string    `json:"donor,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	DurationMS int64     `json:"duration_ms"`
	// Status is StatusPass, StatusWarn, StatusPending, StatusFail or
	// StatusSkipped.
	Status   string            `json:"status"`
	Error    string            `json:"error,omitempty"`
	Criteria []CriterionResult `json:"criteria,omitempty"`
	Measures Measures          `json:"measures"`
	Cells    []CellReport      `json:"cells,omitempty"`
	Links    []LinkLag         `json:"links,omitempty"`
	Tables   []TableChecksum   `json:"tables,omitempty"`
}

// Measures are a step's figures; a nil one was not measured.
type Measures struct {
	FaultAt          time.Time `json:"fault_at,omitzero"`
	DetectedAt       time.Time `json:"detected_at,omitzero"`
	RestoredAt       time.Time `json:"restored_at,omitzero"`
	DetectionMS      *int64    `json:"detection_ms,omitempty"`
	RTOMS            *int64    `json:"rto_ms,omitempty"`
	WriteForbiddenMS *int64    `json:"write_forbidden_ms,omitempty"`
	RPO              *int64    `json:"rpo,omitempty"`
	RPOPending       bool      `json:"rpo_pending,omitempty"`
	LostGTIDs        string    `json:"lost_gtids,omitempty"`
	MaxLagMS         *int64    `json:"max_lag_ms,omitempty"`
	// CopyMS and RowsCopied are a rebuild step's copy.
	CopyMS     *int64 `json:"copy_ms,omitempty"`
	RowsCopied *int64 `json:"rows_copied,omitempty"`
}

// CriterionResult is one target against what was measured.
type CriterionResult struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Actual string `json:"actual"`
	Status string `json:"status"`
	// Critical criteria fail the drill; a non-critical one only sets
	// conditions (docs/drills.md lists which).
	Critical bool `json:"critical"`
}

// CellReport is one cell's figures in a step, judged by the step's
// targets.
type CellReport struct {
	Cell             string `json:"cell"`
	From             string `json:"from"`
	To               string `json:"to"`
	RTOMS            *int64 `json:"rto_ms,omitempty"`
	WriteForbiddenMS *int64 `json:"write_forbidden_ms,omitempty"`
	RPO              int64  `json:"rpo"`
	Status           string `json:"status"`
}

// LedgerCheck is the ledger result and its verdict.
type LedgerCheck struct {
	LedgerResult
	// Unexplained is missing writes not covered by the reported RPO.
	Unexplained int64  `json:"unexplained"`
	Status      string `json:"status"`
	Error       string `json:"error,omitempty"`
}

func ms(d time.Duration) *int64 { v := d.Milliseconds(); return &v }
