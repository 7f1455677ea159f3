package drill

import (
	"fmt"
	"strings"
	"time"
)

// judge.go turns measurements into criterion results and the outcome.
// Critical criteria fail the drill; the only non-critical one is a
// postcheck's max_lag (replication still catching up after the drill is a
// condition to follow up, not a failure). A forced failover's RPO that
// cannot be counted yet is "pending", also a condition.

func durCrit(name string, target, actual time.Duration, critical bool) CriterionResult {
	c := CriterionResult{Name: name, Target: "≤ " + fmtDur(target), Actual: fmtDur(actual), Status: StatusPass, Critical: critical}
	if actual > target {
		c.Status = StatusFail
		if !critical {
			c.Status = StatusWarn
		}
	}
	return c
}

func notMeasured(name, target, why string) CriterionResult {
	return CriterionResult{Name: name, Target: target, Actual: "not measured: " + why, Status: StatusFail, Critical: true}
}

func rpoCrit(max, actual int64) CriterionResult {
	c := CriterionResult{Name: "rpo_max", Target: fmt.Sprintf("≤ %d transactions", max), Actual: fmt.Sprintf("%d transactions", actual), Status: StatusPass, Critical: true}
	if actual > max {
		c.Status = StatusFail
	}
	return c
}

func judgeCheck(s Step, res PrecheckResult, sr *StepReport) {
	sr.Links, sr.Tables = res.Links, res.Tables
	var worst LinkLag
	for _, l := range res.Links {
		if l.Lag >= worst.Lag {
			worst = l
		}
	}
	if len(res.Links) > 0 {
		sr.Measures.MaxLagMS = ms(worst.Lag)
	}
	critical := s.Kind == KindPrecheck
	if s.Criteria.MaxLag > 0 {
		if len(res.Links) == 0 {
			c := notMeasured("max_lag", "≤ "+fmtDur(s.Criteria.MaxLag), "no replication link reported")
			c.Critical = critical
			if !critical {
				c.Status = StatusWarn
			}
			sr.Criteria = append(sr.Criteria, c)
		} else {
			c := durCrit("max_lag", s.Criteria.MaxLag, worst.Lag, critical)
			c.Actual += fmt.Sprintf(" (%s→%s)", worst.From, worst.To)
			sr.Criteria = append(sr.Criteria, c)
		}
	}
	if s.Criteria.Checksums {
		c := CriterionResult{Name: "checksums", Target: "all tables equal", Status: StatusPass, Critical: true}
		var differ []string
		for _, t := range res.Tables {
			if !t.Equal {
				differ = append(differ, t.Table)
			}
		}
		switch {
		case len(res.Tables) == 0:
			c.Actual, c.Status = "no table compared", StatusFail
		case len(differ) > 0:
			c.Actual, c.Status = fmt.Sprintf("%d of %d tables differ: %s", len(differ), len(res.Tables), strings.Join(differ, ", ")), StatusFail
		default:
			c.Actual = fmt.Sprintf("%d of %d tables equal", len(res.Tables), len(res.Tables))
		}
		sr.Criteria = append(sr.Criteria, c)
	}
}

func judgeSwitchover(s Step, res SwitchoverResult, sr *StepReport) {
	wf := max(res.WriteForbidden, maxCell(res.Cells, func(c CellResult) time.Duration { return c.WriteForbidden }))
	sr.Measures.WriteForbiddenMS, sr.Measures.RPO = ms(wf), &res.RPO
	if s.Criteria.WriteForbiddenMax > 0 {
		sr.Criteria = append(sr.Criteria, durCrit("write_forbidden_max", s.Criteria.WriteForbiddenMax, wf, true))
	}
	if s.Criteria.RPOMax != nil {
		sr.Criteria = append(sr.Criteria, rpoCrit(*s.Criteria.RPOMax, res.RPO))
	}
	sr.Cells = cells(s, res.Cells)
}

func judgeFailover(s Step, res FailoverResult, sr *StepReport) {
	m := &sr.Measures
	m.FaultAt, m.DetectedAt, m.RestoredAt, m.LostGTIDs, m.RPOPending = res.FaultAt, res.DetectedAt, res.RestoredAt, res.LostGTIDs, res.RPOPending
	if !res.FaultAt.IsZero() && !res.DetectedAt.IsZero() {
		m.DetectionMS = ms(res.DetectedAt.Sub(res.FaultAt))
	}
	if !res.FaultAt.IsZero() && !res.RestoredAt.IsZero() {
		m.RTOMS = ms(res.RestoredAt.Sub(res.FaultAt))
	}
	if !res.RPOPending {
		m.RPO = &res.RPO
	}
	c := s.Criteria
	if c.DetectionMax > 0 {
		if m.DetectionMS == nil {
			sr.Criteria = append(sr.Criteria, notMeasured("detection_max", "≤ "+fmtDur(c.DetectionMax), "no fault or detection time reported"))
		} else {
			sr.Criteria = append(sr.Criteria, durCrit("detection_max", c.DetectionMax, res.DetectedAt.Sub(res.FaultAt), true))
		}
	}
	if c.RTOMax > 0 {
		if m.RTOMS == nil {
			sr.Criteria = append(sr.Criteria, notMeasured("rto_max", "≤ "+fmtDur(c.RTOMax), "no fault or restore time reported"))
		} else {
			sr.Criteria = append(sr.Criteria, durCrit("rto_max", c.RTOMax, res.RestoredAt.Sub(res.FaultAt), true))
		}
	}
	if c.RPOMax != nil {
		if res.RPOPending {
			sr.Criteria = append(sr.Criteria, CriterionResult{Name: "rpo_max", Target: fmt.Sprintf("≤ %d transactions", *c.RPOMax),
				Actual: "pending: " + orDefault(res.PendingReason, "not counted yet"), Status: StatusPending, Critical: true})
		} else {
			sr.Criteria = append(sr.Criteria, rpoCrit(*c.RPOMax, res.RPO))
		}
	}
	sr.Cells = cells(s, res.Cells)
}

func judgeFailback(s Step, res FailbackResult, sr *StepReport) {
	start := stepStart(res.StartedAt, sr)
	m := &sr.Measures
	m.RestoredAt = res.RestoredAt
	wf := max(res.WriteForbidden, maxCell(res.Cells, func(c CellResult) time.Duration { return c.WriteForbidden }))
	m.WriteForbiddenMS = ms(wf)
	if !res.RestoredAt.IsZero() {
		m.RTOMS = ms(res.RestoredAt.Sub(start))
	}
	if s.Criteria.RTOMax > 0 {
		if m.RTOMS == nil {
			sr.Criteria = append(sr.Criteria, notMeasured("rto_max", "≤ "+fmtDur(s.Criteria.RTOMax), "no restore time reported"))
		} else {
			sr.Criteria = append(sr.Criteria, durCrit("rto_max", s.Criteria.RTOMax, res.RestoredAt.Sub(start), true))
		}
	}
	if s.Criteria.WriteForbiddenMax > 0 {
		sr.Criteria = append(sr.Criteria, durCrit("write_forbidden_max", s.Criteria.WriteForbiddenMax, wf, true))
	}
	sr.Cells = cells(s, res.Cells)
}

func judgeRebuild(s Step, res RebuildResult, sr *StepReport) {
	start := stepStart(res.StartedAt, sr)
	m := &sr.Measures
	rows := res.Rows
	m.RowsCopied = &rows
	if !res.CopiedAt.IsZero() {
		m.CopyMS = ms(res.CopiedAt.Sub(start))
	}
	if s.Criteria.CopyMax > 0 {
		if m.CopyMS == nil {
			sr.Criteria = append(sr.Criteria, notMeasured("copy_max", "≤ "+fmtDur(s.Criteria.CopyMax), "no copy end reported"))
		} else {
			sr.Criteria = append(sr.Criteria, durCrit("copy_max", s.Criteria.CopyMax, res.CopiedAt.Sub(start), true))
		}
	}
}

// stepStart is when an action says it started, else when its step did.
func stepStart(reported time.Time, sr *StepReport) time.Time {
	if reported.IsZero() {
		return sr.StartedAt
	}
	return reported
}

func maxCell(cs []CellResult, f func(CellResult) time.Duration) time.Duration {
	var m time.Duration
	for _, c := range cs {
		m = max(m, f(c))
	}
	return m
}

// cells judges each cell by the step's own targets.
func cells(s Step, cs []CellResult) []CellReport {
	var out []CellReport
	for _, c := range cs {
		cr := CellReport{Cell: c.Cell, From: c.From, To: c.To, RPO: c.RPO, Status: StatusPass}
		if c.RTO > 0 {
			cr.RTOMS = ms(c.RTO)
		}
		if c.WriteForbidden > 0 {
			cr.WriteForbiddenMS = ms(c.WriteForbidden)
		}
		t := s.Criteria
		if (t.RTOMax > 0 && c.RTO > t.RTOMax) || (t.WriteForbiddenMax > 0 && c.WriteForbidden > t.WriteForbiddenMax) ||
			(t.RPOMax != nil && c.RPO > *t.RPOMax) {
			cr.Status = StatusFail
		}
		out = append(out, cr)
	}
	return out
}

// stepStatus is the worst of its criteria: fail > pending > warn > pass.
func stepStatus(cs []CriterionResult) string {
	rank := map[string]int{StatusPass: 0, StatusWarn: 1, StatusPending: 2, StatusFail: 3}
	st := StatusPass
	for _, c := range cs {
		if rank[c.Status] > rank[st] {
			st = c.Status
		}
	}
	return st
}

// outcome applies the rules of docs/drills.md and explains them.
func outcome(r *Report, runFails []string) (Outcome, []string) {
	var conds []string
	fails := append([]string(nil), runFails...)
	for _, s := range r.Steps {
		name := fmt.Sprintf("step %d (%s)", s.Index+1, stepName(s))
		if s.Error != "" {
			fails = append(fails, fmt.Sprintf("%s errored: %s", name, s.Error))
		}
		if s.Status == StatusSkipped && len(runFails) == 0 {
			fails = append(fails, name+" was skipped after an earlier failure")
		}
		for _, c := range s.Criteria {
			switch c.Status {
			case StatusFail:
				fails = append(fails, fmt.Sprintf("%s: %s missed: target %s, actual %s", name, c.Name, c.Target, c.Actual))
			case StatusWarn:
				conds = append(conds, fmt.Sprintf("%s: %s (non-critical) missed: target %s, actual %s", name, c.Name, c.Target, c.Actual))
			case StatusPending:
				conds = append(conds, fmt.Sprintf("%s: %s is pending (%s): confirm it before closing the drill", name, c.Name, c.Actual))
			}
		}
	}
	if l := r.Ledger; l != nil {
		switch {
		case l.Status == StatusWarn:
			conds = append(conds, "the ledger of acknowledged writes was not checked ("+l.Error+"): check the application's ledger for the drill's window")
		case l.Error != "":
			fails = append(fails, "the ledger of acknowledged writes could not be checked: "+l.Error)
		case l.Unexplained > 0 || l.Duplicated > 0:
			fails = append(fails, fmt.Sprintf("ledger: %d acknowledged write(s) missing beyond the reported RPO, %d duplicated", l.Unexplained, l.Duplicated))
		}
	}
	switch {
	case len(fails) > 0:
		return Failed, append(fails, conds...)
	case len(conds) > 0:
		return PassedWithConditions, conds
	}
	why := "every criterion met"
	if l := r.Ledger; l != nil {
		why += fmt.Sprintf("; ledger exact: %d acknowledged writes, %d missing (all explained by the reported RPO), 0 duplicated", l.Acknowledged, l.Missing)
	}
	return Passed, []string{why}
}
