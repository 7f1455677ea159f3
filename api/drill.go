package api

import (
	"time"

	"github.com/regionplatform/region/controller"
)

// DrillsView is the body of GET /v1/drills: drill records newest first,
// schedules by plan name.
type DrillsView struct {
	Drills    []controller.DrillRecord   `json:"drills"`
	Schedules []controller.DrillSchedule `json:"schedules"`
}

// ScheduleRequest is the body of POST /v1/drills/schedules.
type ScheduleRequest struct {
	// PlanYAML is the plan file's text; its name names the schedule.
	PlanYAML string `json:"plan_yaml"`
	// Cron has five fields (minute hour day-of-month month day-of-week, UTC).
	Cron     string `json:"cron"`
	Disabled bool   `json:"disabled,omitempty"`
}

// DrillRecordRequest is the body of POST /v1/drills: the outcome of a drill
// an operator ran (regionctl drill run).
type DrillRecordRequest struct {
	ID        string    `json:"id"`
	Plan      string    `json:"plan"`
	Scenario  string    `json:"scenario,omitempty"`
	Outcome   string    `json:"outcome"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Report    string    `json:"report,omitempty"`
	Summary   string    `json:"summary,omitempty"`
}
