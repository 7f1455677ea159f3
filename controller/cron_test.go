package controller

import (
	"strings"
	"testing"
	"time"
)

func minuteUTC(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestParseCronNext checks the next run after a time, across month and
// year ends, day-of-week rules (7 is Sunday; either day field matches
// when both are restricted) and descriptors.
func TestParseCronNext(t *testing.T) {
	for _, tc := range []struct {
		cron, after, want string
	}{
		{"0 3 1 * *", "2026-11-01 02:59", "2026-11-01 03:00"},
		{"0 3 1 * *", "2026-11-01 03:00", "2026-12-01 03:00"}, // strictly after
		{"0 3 1 * *", "2025-12-15 00:00", "2026-01-01 03:00"}, // year boundary
		{" 0 3 1 * * ", "2026-11-01 02:59", "2026-11-01 03:00"},
		{"30 23 31 * *", "2026-04-01 00:00", "2026-05-31 23:30"}, // April has no 31st
		{"0 0 29 2 *", "2024-03-01 00:00", "2028-02-29 00:00"},   // leap day, years on
		{"59 23 28-31 * *", "2026-02-28 23:59", "2026-03-28 23:59"},
		{"*/15 * * * *", "2026-11-01 03:14", "2026-11-01 03:15"},
		{"5/20 * * * *", "2026-11-01 03:46", "2026-11-01 04:05"}, // 5, 25, 45
		{"0 9-17/4 * 1,6 *", "2026-01-31 17:00", "2026-06-01 09:00"},
		{"0 4 * * 2", "2026-11-19 10:00", "2026-11-24 04:00"},   // Tuesday
		{"0 4 * * 7", "2026-11-19 10:00", "2026-11-22 04:00"},   // 7 = Sunday
		{"0 4 * * 5-7", "2026-11-21 04:00", "2026-11-22 04:00"}, // Sat -> Sun
		{"0 4 * * 1/3", "2026-11-19 04:00", "2026-11-22 04:00"}, // Mon, Thu, Sun
		{"0 4 * * 1/3", "2026-11-22 04:00", "2026-11-23 04:00"},
		{"0 4 * * sun", "2026-11-19 10:00", "2026-11-22 04:00"},
		{"0 4 1 * 4", "2026-11-19 10:00", "2026-11-26 04:00"}, // day of month OR day of week
		{"0 4 1 * 4", "2026-11-26 04:00", "2026-12-01 04:00"},
		{"0 3 ? jan *", "2026-11-19 10:00", "2027-01-01 03:00"},
		{"@monthly", "2026-11-15 12:00", "2026-12-01 00:00"},
		{"@weekly", "2026-11-19 10:00", "2026-11-22 00:00"},
		{"@daily", "2026-11-19 10:00", "2026-11-20 00:00"},
		{"@hourly", "2026-11-19 10:00", "2026-11-19 11:00"},
		{"@yearly", "2026-11-19 10:00", "2027-01-01 00:00"},
	} {
		s, err := ParseCron(tc.cron)
		if err != nil {
			t.Errorf("ParseCron(%q): %v", tc.cron, err)
			continue
		}
		if got := s.Next(minuteUTC(t, tc.after)); !got.Equal(minuteUTC(t, tc.want)) {
			t.Errorf("%q after %s: next %s, want %s", tc.cron, tc.after, got.Format("2006-01-02 15:04 Mon"), tc.want)
		}
	}
}

// TestParseCronErrors checks that a bad schedule names the field at fault
// and what to write.
func TestParseCronErrors(t *testing.T) {
	for _, tc := range []struct {
		cron string
		want []string
	}{
		{"", []string{`has 0 fields, want 5`}},
		{"0 3 * *", []string{`"0 3 * *" has 4 fields, want 5: minute hour day-of-month month day-of-week`}},
		{"0 3 1 * * *", []string{`has 6 fields`}},
		{"61 * * * *", []string{`minute field "61": end of range (61) above maximum (59)`, "write 0-59"}},
		{"0 24 * * *", []string{`hour field "24"`, "write 0-23"}},
		{"0 3 0 * *", []string{`day-of-month field "0": beginning of range (0) below minimum (1)`, "write 1-31"}},
		{"0 3 1 13 *", []string{`month field "13"`, "jan-dec"}},
		{"0 3 * * 8", []string{`day-of-week field "8"`, "0 and 7 are Sunday"}},
		{"0 3 * * someday", []string{`day-of-week field "someday"`}},
		{"*/0 * * * *", []string{`minute field "*/0"`, "step"}},
		{"5-1 * * * *", []string{`minute field "5-1": beginning of range (5) beyond end of range (1)`}},
		{"1,,2 * * * *", []string{`minute field "1,,2": empty item`}},
		{"0 , * * *", []string{`hour field ",": empty item`}},
		{"@every 1h", []string{"@every is not a drill schedule", "@monthly"}},
		{"@fortnightly", []string{"unrecognized descriptor", "use @hourly, @daily"}},
		{"TZ=Europe/Paris 0 3 * * *", []string{"drill schedules are in UTC", `remove "TZ=Europe/Paris"`}},
		{"TZ=x", []string{"drill schedules are in UTC"}},
	} {
		_, err := ParseCron(tc.cron)
		if err == nil {
			t.Errorf("ParseCron(%q) accepted", tc.cron)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseCron(%q) = %q, want it to contain %q", tc.cron, err, w)
			}
		}
	}
}

// TestSundaySeven checks the rewrite of crontab's Sunday 7 for robfig/cron.
func TestSundaySeven(t *testing.T) {
	for in, want := range map[string]string{
		"7":     "0",
		"5-7":   "0,5-6/1",
		"0-7":   "0,0-6/1",
		"1/3":   "0,1-6/3",
		"2/2":   "2-6/2",
		"7/2":   "0",
		"1-5":   "1-5",
		"*":     "*",
		"*/2":   "*/2",
		"sun":   "sun",
		"1,7":   "1,0",
		"mon-7": "mon-7",
		"8":     "8",
	} {
		if got := sundaySeven(in); got != want {
			t.Errorf("sundaySeven(%q) = %q, want %q", in, got, want)
		}
	}
}
