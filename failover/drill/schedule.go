package drill

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/controller"
)

// maxLookBack bounds how far back Due looks for a cron slot (a plan on
// 29 February fires at least once in 8 years).
const maxLookBack = 8 * 366 * 24 * time.Hour

// Due returns, sorted, the plans whose schedule is due at now: enabled,
// with a cron slot (minute, UTC) at or before now that no run of the plan
// has started at or after, and that is not older than the schedule itself
// (a schedule created at 03:05 does not fire for 03:00). Slots missed
// while no leader ran collapse into one run: the plan is due once, and a
// drill.record of its run (StartedAt >= the slot) makes it not due.
//
// schedules and history are the controller state's Schedules and Drills.
// A schedule whose cron does not parse is never due (drill.schedule
// refuses those).
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
		c, err := parseCron(sc.Cron)
		if err != nil {
			continue
		}
		slot, ok := c.prev(now)
		if !ok || slot.Before(sc.UpdatedAt.UTC().Truncate(time.Minute)) {
			continue
		}
		last := lastRun[name]
		if sc.LastRun.After(last) {
			last = sc.LastRun
		}
		if !last.IsZero() && !last.Before(slot) {
			continue
		}
		due = append(due, name)
	}
	sort.Strings(due)
	return due
}

// cron is a parsed five-field expression.
type cron struct {
	minute, hour, dom, month, dow [61]bool
	// domStar, dowStar: with both restricted, a day matches either
	// (the classic cron rule).
	domStar, dowStar bool
}

func parseCron(expr string) (*cron, error) {
	if err := controller.CheckCron(expr); err != nil {
		return nil, err
	}
	f := strings.Fields(expr)
	c := &cron{domStar: strings.HasPrefix(f[2], "*"), dowStar: strings.HasPrefix(f[4], "*")}
	expand(f[0], 0, 59, &c.minute)
	expand(f[1], 0, 23, &c.hour)
	expand(f[2], 1, 31, &c.dom)
	expand(f[3], 1, 12, &c.month)
	expand(f[4], 0, 7, &c.dow)
	if c.dow[7] {
		c.dow[0] = true // 7 is Sunday too
	}
	return c, nil
}

// expand sets the values a CheckCron-valid field lists.
func expand(field string, lo, hi int, set *[61]bool) {
	for _, item := range strings.Split(field, ",") {
		rng, stepS, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			step, _ = strconv.Atoi(stepS)
		}
		a, b := lo, hi
		if rng != "*" {
			x, y, isRange := strings.Cut(rng, "-")
			a, _ = strconv.Atoi(x)
			b = a
			if isRange {
				b, _ = strconv.Atoi(y)
			} else if hasStep {
				b = hi // "N/STEP" is N-max/STEP
			}
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
}

func (c *cron) day(t time.Time) bool {
	if !c.month[int(t.Month())] {
		return false
	}
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// prev is the latest slot at or before now (to the minute, UTC).
func (c *cron) prev(now time.Time) (time.Time, bool) {
	now = now.UTC().Truncate(time.Minute)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day := today
	for stop := now.Add(-maxLookBack); !day.Before(stop); day = day.AddDate(0, 0, -1) {
		if !c.day(day) {
			continue
		}
		h0 := 23
		if day.Equal(today) {
			h0 = now.Hour()
		}
		for h := h0; h >= 0; h-- {
			if !c.hour[h] {
				continue
			}
			m0 := 59
			if day.Equal(today) && h == now.Hour() {
				m0 = now.Minute()
			}
			for m := m0; m >= 0; m-- {
				if c.minute[m] {
					return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), true
				}
			}
		}
	}
	return time.Time{}, false
}
