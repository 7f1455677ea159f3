package controller

import (
	"fmt"
	"time"
)

// StartDrill (drill.start) records that the leader starts a drill: a
// record with outcome "running" and, for a scheduled plan, the schedule's
// last run. It enters the log before the drill runs, so a scheduled drill
// runs once even when the leader changes; a new leader records a running
// drill it does not run itself as failed (interrupted).
type StartDrill struct {
	Header
	ID        string    `json:"id"`
	Plan      string    `json:"plan"`
	StartedAt time.Time `json:"started_at"`
	// Runner is the node that runs the drill.
	Runner string `json:"runner"`
}

// Op implements Command.
func (*StartDrill) Op() string { return OpDrillStart }

func (c *StartDrill) check() error {
	return firstErr(checkName("id", c.ID), checkName("plan", c.Plan), checkName("runner", c.Runner),
		checkTime("started_at", c.StartedAt), checkTime("at", c.At))
}

func (c *StartDrill) apply(s *State) error {
	if _, ok := s.Drills[c.ID]; ok {
		return fmt.Errorf("drill %q is already recorded", c.ID)
	}
	s.Drills[c.ID] = DrillRecord{ID: c.ID, Plan: c.Plan, Outcome: DrillRunning, StartedAt: c.StartedAt, Actor: c.Actor, Runner: c.Runner}
	markRun(s, c.Plan, c.ID, c.StartedAt)
	return nil
}

// markRun sets the schedule of plan (if any) to have run at start.
func markRun(s *State, plan, id string, start time.Time) {
	if sc, ok := s.Schedules[plan]; ok && !start.Before(sc.LastRun) {
		sc.LastRun, sc.LastDrill = start, id
		s.Schedules[plan] = sc
	}
}

// RecordDrill (drill.record) stores the outcome of a drill run and, when
// the plan is scheduled, sets the schedule's last run. It completes the
// record of a running drill (drill.start) of the same id.
type RecordDrill struct {
	Header
	ID        string    `json:"id"`
	Plan      string    `json:"plan"`
	Scenario  string    `json:"scenario,omitempty"`
	Outcome   string    `json:"outcome"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Report    string    `json:"report,omitempty"`
	Summary   string    `json:"summary,omitempty"`
}

// Op implements Command.
func (*RecordDrill) Op() string { return OpDrillRecord }

func (c *RecordDrill) check() error {
	if err := firstErr(checkName("id", c.ID), checkName("plan", c.Plan),
		oneOf("outcome", c.Outcome, DrillPassed, DrillPassedConditions, DrillFailed),
		checkTime("started_at", c.StartedAt), checkTime("ended_at", c.EndedAt), checkTime("at", c.At)); err != nil {
		return err
	}
	if c.EndedAt.Before(c.StartedAt) {
		return fmt.Errorf("field \"ended_at\" is before \"started_at\"")
	}
	return nil
}

func (c *RecordDrill) apply(s *State) error {
	old, ok := s.Drills[c.ID]
	switch {
	case ok && old.Outcome != DrillRunning:
		return fmt.Errorf("drill %q is already recorded (%s)", c.ID, old.Outcome)
	case ok && old.Plan != c.Plan:
		return fmt.Errorf("drill %q runs plan %q, not %q", c.ID, old.Plan, c.Plan)
	}
	actor := c.Actor
	if ok {
		actor = old.Actor
	}
	s.Drills[c.ID] = DrillRecord{ID: c.ID, Plan: c.Plan, Scenario: c.Scenario, Outcome: c.Outcome,
		StartedAt: c.StartedAt, EndedAt: c.EndedAt, Report: c.Report, Actor: actor, Summary: c.Summary, Runner: old.Runner}
	markRun(s, c.Plan, c.ID, c.StartedAt)
	return nil
}

// ScheduleDrill (drill.schedule) creates or replaces the schedule of a
// drill plan. Cron is what ParseCron accepts: five fields (minute hour
// day-of-month month day-of-week, UTC) or a descriptor such as @monthly.
type ScheduleDrill struct {
	Header
	Plan     string `json:"plan"`
	Cron     string `json:"cron"`
	Disabled bool   `json:"disabled,omitempty"`
	// PlanYAML is the plan's text (checked by the drill package before
	// the command is proposed).
	PlanYAML string `json:"plan_yaml,omitempty"`
}

// Op implements Command.
func (*ScheduleDrill) Op() string { return OpDrillSchedule }

func (c *ScheduleDrill) check() error {
	if err := firstErr(checkName("plan", c.Plan), checkTime("at", c.At)); err != nil {
		return err
	}
	if err := CheckCron(c.Cron); err != nil {
		return fmt.Errorf("field \"cron\": %w", err)
	}
	return nil
}

func (c *ScheduleDrill) apply(s *State) error {
	sc := s.Schedules[c.Plan]
	sc.Plan, sc.Cron, sc.Enabled, sc.UpdatedAt, sc.By, sc.PlanYAML = c.Plan, c.Cron, !c.Disabled, c.At, c.Actor, c.PlanYAML
	s.Schedules[c.Plan] = sc
	return nil
}

// UnscheduleDrill (drill.unschedule) removes a plan's schedule. The plan's
// drill records stay.
type UnscheduleDrill struct {
	Header
	Plan string `json:"plan"`
}

// Op implements Command.
func (*UnscheduleDrill) Op() string { return OpDrillUnschedule }

func (c *UnscheduleDrill) check() error {
	return firstErr(checkName("plan", c.Plan), checkTime("at", c.At))
}

func (c *UnscheduleDrill) apply(s *State) error {
	if _, ok := s.Schedules[c.Plan]; !ok {
		return fmt.Errorf("plan %q is not scheduled", c.Plan)
	}
	delete(s.Schedules, c.Plan)
	return nil
}
