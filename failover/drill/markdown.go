package drill

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the report as Markdown: the version kept with the
// change record and read in code review.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	row := func(cells ...string) {
		for i, c := range cells {
			cells[i] = mdCell(c)
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}
	head := func(cells ...string) {
		row(cells...)
		p("|%s\n", strings.Repeat(" --- |", len(cells)))
	}

	p("# DR drill report %s\n\n", r.DrillID)
	p("**Outcome: %s**\n\n", r.Outcome.Title())
	for _, why := range r.Reasons {
		p("- %s\n", why)
	}
	p("\n")
	head("Field", "Value")
	row("Drill id", r.DrillID)
	row("Plan", r.Plan)
	if r.Description != "" {
		row("Description", r.Description)
	}
	row("Type", r.Type)
	row("Scenario", r.Scenario)
	row("Environment", r.Environment+" (fault mode: "+r.Mode+")")
	row("Operator", orDefault(r.Operator, "-"))
	row("Started", stamp(r.StartedAt))
	row("Ended", stamp(r.EndedAt))
	row("Duration", msDur(&r.DurationMS))
	row("Outcome", r.Outcome.Title())

	p("\n## Steps\n\n")
	head("Step", "Started", "Ended", "Duration", "Detection", "RTO", "RPO (transactions)", "Write-forbidden", "Result")
	for _, s := range r.Steps {
		m := s.Measures
		if s.Status == StatusSkipped {
			row(stepLabel(s), "-", "-", "-", "-", "-", "-", "-", "SKIPPED")
			continue
		}
		row(stepLabel(s), stamp(s.StartedAt), stamp(s.EndedAt), msDur(&s.DurationMS), msDur(m.DetectionMS), msDur(m.RTOMS),
			rpoText(m), msDur(m.WriteForbiddenMS), statusWord(s.Status))
	}
	for _, s := range r.Steps {
		if s.Error != "" {
			p("\nStep %d error: %s\n", s.Index+1, s.Error)
		}
	}

	p("\n## Targets and actuals\n\n")
	head("Step", "Criterion", "Target", "Actual", "Weight", "Result")
	for _, s := range r.Steps {
		for _, c := range s.Criteria {
			row(stepLabel(s), c.Name, c.Target, c.Actual, critical(c), statusWord(c.Status))
		}
	}

	if hasCells(r) {
		p("\n## Per cell\n\n")
		head("Step", "Cell", "From → to", "RTO", "Write-forbidden", "RPO (transactions)", "Result")
		for _, s := range r.Steps {
			for _, c := range s.Cells {
				row(stepLabel(s), c.Cell, c.From+" → "+c.To, msDur(c.RTOMS), msDur(c.WriteForbiddenMS), fmt.Sprint(c.RPO), statusWord(c.Status))
			}
		}
	}

	if hasChecks(r) {
		p("\n## Replication checks\n\n")
		head("Step", "Link or table", "Measured")
		for _, s := range r.Steps {
			for _, l := range s.Links {
				row(stepLabel(s), "lag "+l.From+" → "+l.To, fmtDur(l.Lag))
			}
			for _, t := range s.Tables {
				eq := "equal"
				if !t.Equal {
					eq = "DIFFERENT"
				}
				row(stepLabel(s), "checksum "+t.Table, eq+": "+checksumText(t))
			}
		}
	}

	p("\n## Timeline\n\n")
	head("Time (UTC)", "Since start", "Action", "Actor", "Result")
	for _, e := range r.Timeline {
		row(clock(e.At), offset(r.StartedAt, e.At), e.Action, e.Actor, e.Result)
	}

	p("\n## Observations\n\n")
	if len(r.Observations) == 0 {
		p("None.\n")
	}
	for _, o := range r.Observations {
		p("- %s\n", o)
	}

	p("\n## Ledger of acknowledged writes\n\n")
	if l := r.Ledger; l == nil {
		p("Not checked.\n")
	} else {
		head("Acknowledged", "Missing", "Explained by RPO", "Unexplained", "Duplicated", "Result")
		row(fmt.Sprint(l.Acknowledged), fmt.Sprint(l.Missing), fmt.Sprint(l.ExplainedByRPO), fmt.Sprint(l.Unexplained), fmt.Sprint(l.Duplicated), statusWord(l.Status))
		if l.Error != "" {
			p("\nError: %s\n", l.Error)
		}
		if len(l.Samples) > 0 {
			p("\nSamples:\n\n")
		}
		for _, s := range l.Samples {
			p("- %s\n", s)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("drill report %s: write Markdown: %w", r.DrillID, err)
	}
	return nil
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func hasCells(r *Report) bool {
	for _, s := range r.Steps {
		if len(s.Cells) > 0 {
			return true
		}
	}
	return false
}

func hasChecks(r *Report) bool {
	for _, s := range r.Steps {
		if len(s.Links)+len(s.Tables) > 0 {
			return true
		}
	}
	return false
}
