package drill

import (
	"sort"
	"time"

	"github.com/regionplatform/region/controller"
)

// Due returns, sorted, the plans whose schedule is due at now: enabled,
// with a cron slot (minute, UTC) at or before now that no run of the plan
// has started at or after, and that is not older than the schedule itself
// (a schedule created at 03:05 does not fire for 03:00). Slots missed
// while no leader ran collapse into one run: the plan is due once, and a
// drill.record of its run (StartedAt >= the slot) makes it not due.
//
// schedules and history are the controller state's Schedules and Drills.
// A schedule whose cron does not parse (controller.ParseCron) is never due
// (drill.schedule refuses those).
func Due(schedules map[string]controller.DrillSchedule, history map[string]controller.DrillRecord, now time.Time) []string {
	lastRun := map[string]time.Time{}
	for _, r := range history {
		if r.StartedAt.After(lastRun[r.Plan]) {
			lastRun[r.Plan] = r.StartedAt
		}
	}
	var due []string
	for name, sc := range schedules {
		if !sc.Enabled {
			continue
		}
		sched, err := controller.ParseCron(sc.Cron)
		if err != nil {
			continue
		}
		// The plan is due for the first slot after both the schedule's
		// creation (to the minute: slots are whole minutes, and Next
		// looks strictly after) and its last run, if that slot has come.
		after := sc.UpdatedAt.UTC().Truncate(time.Minute).Add(-time.Second)
		last := lastRun[name]
		if sc.LastRun.After(last) {
			last = sc.LastRun
		}
		if last.After(after) {
			after = last.UTC()
		}
		slot := sched.Next(after)
		if slot.IsZero() || slot.After(now) {
			continue
		}
		due = append(due, name)
	}
	sort.Strings(due)
	return due
}
