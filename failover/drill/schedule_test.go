package drill

import (
	"slices"
	"testing"
	"time"

	"github.com/regionplatform/region/controller"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDue(t *testing.T) {
	created := utc("2026-01-15 10:00")
	sched := func(cron string) controller.DrillSchedule {
		return controller.DrillSchedule{Cron: cron, Enabled: true, UpdatedAt: created}
	}
	monthly := map[string]controller.DrillSchedule{"monthly": sched("0 3 1 * *")}
	ran := func(plan, at string) map[string]controller.DrillRecord {
		return map[string]controller.DrillRecord{"r": {ID: "r", Plan: plan, StartedAt: utc(at)}}
	}
	for _, tc := range []struct {
		name      string
		schedules map[string]controller.DrillSchedule
		history   map[string]controller.DrillRecord
		now       string
		want      []string
	}{
		{"first slot after creation", monthly, nil, "2026-02-01 03:00", []string{"monthly"}},
		{"not yet", monthly, nil, "2026-02-01 02:59", nil},
		{"slot before the schedule existed", monthly, nil, "2026-01-31 23:59", nil},
		{"ran for this slot", monthly, ran("monthly", "2026-02-01 03:00"), "2026-02-01 03:05", nil},
		{"ran for this slot, still not due late in the month", monthly, ran("monthly", "2026-02-01 03:01"), "2026-02-28 23:59", nil},
		{"next month boundary: due again", monthly, ran("monthly", "2026-02-01 03:01"), "2026-03-01 03:00", []string{"monthly"}},
		{"year boundary", map[string]controller.DrillSchedule{"monthly": {Cron: "0 3 1 * *", Enabled: true, UpdatedAt: utc("2025-11-20 00:00")}},
			ran("monthly", "2025-12-01 03:00"), "2026-01-01 03:00", []string{"monthly"}},
		{"missed slots collapse into one run", monthly, ran("monthly", "2026-02-01 03:00"), "2026-06-17 08:00", []string{"monthly"}},
		{"a run of another plan does not count", monthly, ran("other", "2026-02-01 03:00"), "2026-02-01 03:10", []string{"monthly"}},
		{"schedule's LastRun counts", map[string]controller.DrillSchedule{"monthly": {Cron: "0 3 1 * *", Enabled: true, UpdatedAt: created, LastRun: utc("2026-02-01 03:00")}},
			nil, "2026-02-01 04:00", nil},
		{"disabled", map[string]controller.DrillSchedule{"monthly": {Cron: "0 3 1 * *", UpdatedAt: created}}, nil, "2026-02-01 03:00", nil},
		{"bad cron never due", map[string]controller.DrillSchedule{"x": sched("0 3 1 *")}, nil, "2026-02-01 03:00", nil},
		{"31st in a 30-day month: not due", map[string]controller.DrillSchedule{"eom": sched("0 3 31 * *")}, ran("eom", "2026-03-31 03:00"), "2026-04-30 23:59", nil},
		{"31st: due in May", map[string]controller.DrillSchedule{"eom": sched("0 3 31 * *")}, ran("eom", "2026-03-31 03:00"), "2026-05-31 03:00", []string{"eom"}},
		{"descriptor", map[string]controller.DrillSchedule{"m": sched("@monthly")}, nil, "2026-02-01 00:00", []string{"m"}},
		{"descriptor, ran", map[string]controller.DrillSchedule{"m": sched("@monthly")}, ran("m", "2026-02-01 00:00"), "2026-02-27 00:00", nil},
		{"Sunday as 7", map[string]controller.DrillSchedule{"sun": sched("0 4 * * 7")}, ran("sun", "2026-01-18 04:00"), "2026-01-25 04:00", []string{"sun"}},
		{"Sunday as 7, not on Saturday", map[string]controller.DrillSchedule{"sun": sched("0 4 * * 7")}, ran("sun", "2026-01-18 04:00"), "2026-01-24 04:00", nil},
		{"slot at creation minute", map[string]controller.DrillSchedule{"h": {Cron: "0 * * * *", Enabled: true, UpdatedAt: utc("2026-01-15 10:00").Add(30 * time.Second)}}, nil, "2026-01-15 10:00", []string{"h"}},
		{"a run just before the slot does not count", monthly, map[string]controller.DrillRecord{"r": {Plan: "monthly", StartedAt: utc("2026-02-01 02:59").Add(59*time.Second + 500*time.Millisecond)}}, "2026-02-01 03:00", []string{"monthly"}},
		{"several plans, sorted", map[string]controller.DrillSchedule{"monthly": sched("0 3 1 * *"), "daily": sched("30 2 * * *"), "prod": sched("0 4 8 * *")},
			nil, "2026-02-01 03:00", []string{"daily", "monthly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Due(tc.schedules, tc.history, utc(tc.now))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Due = %q, want %q", got, tc.want)
			}
		})
	}
}
