package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a run of scenarios: one Result each.
type Report struct {
	Seed     uint64    `json:"seed"`
	Duration string    `json:"duration"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Results  []*Result `json:"results"`
}

// Pass reports whether every scenario passed.
func (r *Report) Pass() bool {
	for _, res := range r.Results {
		if !res.Pass {
			return false
		}
	}
	return len(r.Results) > 0
}

// WriteTable prints the results table: a row per scenario, a column per
// invariant with its violations/checked counts (a self-test's expected
// violation marked with !), then the details of whatever failed.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SCENARIO\tACKED\tUNKNOWN\tREFUSED\t%s\tOTHER\tRESULT\tSECONDS\n", strings.ToUpper(strings.Join(Invariants, "\t")))
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d", res.Scenario, res.Writes[Acked], res.Writes[Unknown], res.Writes[Refused])
		for _, inv := range Invariants {
			fmt.Fprintf(tw, "\t%s", cell(res, res.Count(inv)))
		}
		var other []string
		for _, c := range res.Counts {
			if !isInvariant(c.Invariant) {
				other = append(other, c.Invariant+" "+cell(res, c))
			}
		}
		verdict := "pass"
		if !res.Pass {
			verdict = "FAIL"
		}
		o := "-"
		if len(other) > 0 {
			o = strings.Join(other, " ")
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%.1f\n", o, verdict, res.Seconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ncells: violations/checked; +N: lost writes the forced failover's reported RPO explains; !: the self-test's expected violation")
	for _, res := range r.Results {
		var lines []string
		if res.Broke != "" {
			lines = append(lines, "broke on purpose: "+res.Broke)
		}
		if len(res.Faults) > 0 {
			lines = append(lines, "faults: "+strings.Join(res.Faults, "; "))
		}
		if len(res.Unknown) > 0 {
			lines = append(lines, fmt.Sprintf("%d writes of unknown outcome, e.g. %s", res.Writes[Unknown], strings.Join(res.Unknown, "; ")))
		}
		if res.Error != "" {
			lines = append(lines, "error: "+res.Error)
		}
		for _, c := range res.Counts {
			if c.Violations > 0 || c.Explained > 0 || (c.Detail != "" && (!isInvariant(c.Invariant) || c.Invariant == InvNotes)) {
				lines = append(lines, fmt.Sprintf("%s: %s", c.Invariant, c.Detail))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s:\n  %s\n", res.Scenario, strings.Join(lines, "\n  "))
		}
	}
	verdict := "every scenario passed"
	if !r.Pass() {
		verdict = "SOME SCENARIOS FAILED"
	}
	fmt.Fprintf(w, "\n%d scenarios, seed %d, %s of load each, %.0fs in all: %s\n", len(r.Results), r.Seed, r.Duration, r.Seconds, verdict)
	return nil
}

func cell(res *Result, c Count) string {
	if c.Invariant == "" {
		return "-"
	}
	s := fmt.Sprintf("%d/%d", c.Violations, c.Checked)
	if c.Explained > 0 {
		s += fmt.Sprintf("+%d", c.Explained)
	}
	if c.Invariant == res.Expect {
		s += "!"
	}
	return s
}

func isInvariant(name string) bool {
	for _, inv := range Invariants {
		if inv == name {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
