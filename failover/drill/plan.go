package drill

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
)

// Environments a plan runs in.
const (
	EnvLab        = "lab"
	EnvProduction = "production"
)

// Target modes: how a forced failover's fault is made.
const (
	// ModeKill really kills the region's processes. Lab only.
	ModeKill = "kill"
	// ModeFence fences the region (writes refused, cells moved) instead of
	// killing it: what production drills use.
	ModeFence = "fence"
)

// Step kinds.
const (
	KindPrecheck   = "precheck"
	KindSwitchover = "switchover"
	KindFailover   = "failover"
	KindFailback   = "failback"
	KindPostcheck  = "postcheck"
	KindWait       = "wait"
	// KindRebuild copies every replicated table into a region that a
	// failover step killed, from a donor (as regionctl region rebuild),
	// before its failback: kill mode only.
	KindRebuild = "rebuild"
)

// MaxWait bounds a wait step.
const MaxWait = 30 * time.Minute

// Plan is a drill plan: what to run, in order, and what counts as a pass.
type Plan struct {
	// Name identifies the plan (schedules and history use it).
	Name string `json:"name" yaml:"name"`
	// Description says what the drill proves, for the report.
	Description string `json:"description,omitempty" yaml:"description"`
	// Scenario names the failure played, e.g. "loss of region a".
	Scenario string `json:"scenario,omitempty" yaml:"scenario"`
	// Environment is EnvLab or EnvProduction.
	Environment string `json:"environment" yaml:"environment"`
	// Target says how faults are made.
	Target Target `json:"target" yaml:"target"`
	// Schedule is a five-field cron expression in UTC; empty when the plan
	// is run by hand only.
	Schedule string `json:"schedule,omitempty" yaml:"schedule"`
	// Steps run in order.
	Steps []Step `json:"steps" yaml:"steps"`
}

// Target says how a forced failover's fault is made.
type Target struct {
	// Mode is ModeKill (lab only) or ModeFence.
	Mode string `json:"mode" yaml:"mode"`
}

// Step is one action of a drill and its pass/fail criteria.
type Step struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind" yaml:"kind"`
	// Region is the region switched, failed over or failed back.
	Region string `json:"region,omitempty" yaml:"region"`
	// To is the region that takes the cells; empty lets the controller
	// use each cell's standby.
	To string `json:"to,omitempty" yaml:"to"`
	// Donor is the region a rebuild step copies from.
	Donor string `json:"donor,omitempty" yaml:"donor"`
	// Duration is how long a wait step waits (at most MaxWait).
	Duration time.Duration `json:"duration,omitempty" yaml:"duration"`
	// Criteria are the step's targets.
	Criteria Criteria `json:"criteria" yaml:"criteria"`
}

// Criteria are a step's targets. A zero duration or nil count means "not
// checked"; which ones apply depends on the step's kind (docs/drills.md).
type Criteria struct {
	// MaxLag is the highest replication lag allowed on any link (checks).
	MaxLag time.Duration `json:"max_lag,omitempty" yaml:"max_lag"`
	// Checksums requires every table's checksum equal across regions.
	Checksums bool `json:"checksums,omitempty" yaml:"checksums"`
	// WriteForbiddenMax bounds the longest window in which a user's writes
	// were refused (switchover, failback).
	WriteForbiddenMax time.Duration `json:"write_forbidden_max,omitempty" yaml:"write_forbidden_max"`
	// DetectionMax bounds fault injected -> failure declared (failover).
	DetectionMax time.Duration `json:"detection_max,omitempty" yaml:"detection_max"`
	// RTOMax bounds fault injected (or step start) -> every affected user
	// can write again.
	RTOMax time.Duration `json:"rto_max,omitempty" yaml:"rto_max"`
	// RPOMax bounds the transactions acknowledged but lost (0 for a
	// planned switchover).
	RPOMax *int64 `json:"rpo_max,omitempty" yaml:"rpo_max"`
	// CopyMax bounds how long a rebuild step's copy takes.
	CopyMax time.Duration `json:"copy_max,omitempty" yaml:"copy_max"`
}

// Problem is one thing wrong with a plan: where (Path, e.g.
// "steps[2].criteria.rto_max"), and what to do (Msg). Plans are decoded
// by config.DecodeStrict, so it is config's Problem.
type Problem = config.Problem

// Problems is every problem found in a plan; ParsePlan returns it as its
// error.
type Problems []Problem

// Error lists every problem, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("drill plan has %d problem(s):\n  %s", len(ps), strings.Join(lines, "\n  "))
}

// LoadPlan reads and validates the plan at path.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read drill plan: %w", err)
	}
	p, err := ParsePlan(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePlan decodes a plan from YAML strictly (config.DecodeStrict: an
// unknown field is an error) and validates it. The error is Problems:
// every problem at once, each with its field path and the fix.
func ParsePlan(data []byte) (*Plan, error) {
	var p Plan
	decoded, err := config.DecodeStrict(data, &p)
	if errors.Is(err, io.EOF) {
		return nil, Problems{{Path: config.FileProblem, Msg: "is empty: start from deploy/drills/monthly.yaml"}}
	}
	if err != nil {
		return nil, fmt.Errorf("drill plan: %w", err)
	}
	if decoded.Has(config.FileProblem) { // not YAML, or not a mapping: nothing else to say
		return nil, Problems(decoded)
	}
	// A value that could not be decoded is not reported again by validation.
	if ps := decoded.Add(config.Problems(p.problems())); len(ps) > 0 {
		return nil, Problems(ps)
	}
	return &p, nil
}

// Validate checks a plan built in code (ParsePlan already does).
func (p *Plan) Validate() error {
	if ps := p.problems(); len(ps) > 0 {
		return ps
	}
	return nil
}
