package controller

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"
)

// cronParser is robfig/cron's standard parser: five fields, and the
// descriptors (@monthly, ...).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronFields names the five fields and the values each takes, for errors.
var cronFields = [5]struct{ name, values string }{
	{"minute", "0-59"},
	{"hour", "0-23"},
	{"day-of-month", "1-31"},
	{"month", "1-12 or jan-dec"},
	{"day-of-week", "0-7 (0 and 7 are Sunday) or sun-sat"},
}

// ParseCron parses a drill schedule: five fields in UTC (minute hour
// day-of-month month day-of-week), each "*" or a list of values, ranges
// N-M and steps (*/15, N-M/S, N/S), with months and days also by name and
// 7 as Sunday as in crontab; or one of the descriptors @yearly
// (@annually), @monthly, @weekly, @daily (@midnight) and @hourly. When
// both day fields are restricted, a day matching either one runs.
//
// The schedule works in the location of the time given to its Next:
// pass UTC. Time zones (TZ=...) and @every are refused. The error names
// the field at fault and what to write instead.
func ParseCron(expr string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		// robfig/cron would take the zone (and panics on "TZ=x" alone).
		return nil, fmt.Errorf("%q names a time zone: drill schedules are in UTC, remove %q", expr, strings.Fields(expr)[0])
	}
	if strings.HasPrefix(expr, "@") {
		if strings.HasPrefix(expr, "@every") {
			return nil, fmt.Errorf("%q: @every is not a drill schedule: use five fields, or @hourly, @daily, @weekly, @monthly or @yearly", expr)
		}
		s, err := cronParser.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("%q: %w: use @hourly, @daily, @weekly, @monthly or @yearly, or five fields", expr, err)
		}
		return s, nil
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return nil, fmt.Errorf("%q has %d fields, want 5: minute hour day-of-month month day-of-week, e.g. \"0 3 1 * *\" (03:00 UTC on the 1st), or @monthly", expr, len(fields))
	}
	for i, f := range fields {
		if slices.Contains(strings.Split(f, ","), "") {
			// robfig/cron skips empty items: a field of commas only would never run.
			return nil, cronFieldError(i, f, errors.New("empty item in the list"))
		}
	}
	parsed := slices.Clone(fields)
	parsed[4] = sundaySeven(parsed[4])
	s, err := cronParser.Parse(strings.Join(parsed, " "))
	if err == nil {
		return s, nil
	}
	for i := range parsed {
		alone := []string{"*", "*", "*", "*", "*"}
		alone[i] = parsed[i]
		if _, ferr := cronParser.Parse(strings.Join(alone, " ")); ferr != nil {
			return nil, cronFieldError(i, fields[i], ferr)
		}
	}
	return nil, fmt.Errorf("%q: %w", expr, err)
}

// CheckCron checks a drill schedule (see ParseCron).
func CheckCron(expr string) error {
	_, err := ParseCron(expr)
	return err
}

func cronFieldError(i int, field string, err error) error {
	f := cronFields[i]
	return fmt.Errorf("%s field %q: %w: write %s, a range N-M, a list a,b or a step */N", f.name, field, err, f.values)
}

// sundaySeven rewrites a day-of-week field for robfig/cron, which knows
// Sunday as 0 only: every item that includes 7 gets 0 instead ("5-7" is
// "5-6,0"; "N/S" runs to 7 as in crontab). Items it cannot read are kept
// for the parser to report.
func sundaySeven(field string) string {
	var out []string
	for _, item := range strings.Split(field, ",") {
		rng, stepS, hasStep := strings.Cut(item, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 7 {
			out = append(out, item) // "*", a name, or an error
			continue
		}
		b := a
		switch {
		case isRange:
			if b, err = strconv.Atoi(hi); err != nil {
				out = append(out, item)
				continue
			}
		case hasStep:
			b = 7 // "N/S" is "N-7/S"
		}
		step := 1
		if hasStep {
			if step, err = strconv.Atoi(stepS); err != nil || step < 1 {
				out = append(out, item)
				continue
			}
		}
		if b != 7 {
			out = append(out, item)
			continue
		}
		if (7-a)%step == 0 {
			out = append(out, "0")
		}
		if a <= 6 {
			out = append(out, fmt.Sprintf("%d-6/%d", a, step))
		}
	}
	return strings.Join(out, ",")
}
