// Package preflight checks that a deployment's servers are configured the
// way replication needs, and says what is wrong and how to fix it: each
// region's MySQL (binlog settings, identity, the regiond account's
// privileges, tables without a primary key), each region's Kafka topic,
// and etcd. `regionctl preflight` runs every check; capture runs the
// source checks before it reads a binlog and refuses to start on a
// setting that would lose data (Fatal), with the same message.
//
// The checks of values read from a server are pure functions (CheckSource,
// CheckGrants, CheckDistinct), table-tested for the settings of MySQL 8
// as well as MariaDB; the readers (Source, Grants, ...) fetch the values.
package preflight

import (
	"errors"
	"fmt"
	"strings"
)

// Severity says what a failed check means.
type Severity string

const (
	// Fatal: capture would lose or corrupt data with this setting; it
	// refuses to start.
	Fatal Severity = "fatal"
	// Error: something breaks (an apply, a failover, a switch), but
	// nothing is silently lost.
	Error Severity = "error"
	// Warning: works, with a limit the operator should know.
	Warning Severity = "warning"
)

// Finding is one check's result.
type Finding struct {
	// Region the check is about ("" for the deployment's etcd).
	Region string `json:"region,omitempty"`
	// Check names what was checked: a server variable, "privileges",
	// "kafka topic", ...
	Check string `json:"check"`
	OK    bool   `json:"ok"`
	// Severity of a failed check (empty when OK).
	Severity Severity `json:"severity,omitempty"`
	// Got is what the server has; Want what replication needs.
	Got  string `json:"got,omitempty"`
	Want string `json:"want,omitempty"`
	// Fix says how to fix a failed check.
	Fix string `json:"fix,omitempty"`
}

// String is the finding as one line: "region a: binlog_format is
// STATEMENT, needs ROW: SET GLOBAL ...".
func (f Finding) String() string {
	var b strings.Builder
	if f.Region != "" {
		fmt.Fprintf(&b, "region %s: ", f.Region)
	}
	b.WriteString(f.Check)
	if f.OK {
		fmt.Fprintf(&b, " is %s: ok", f.Got)
		return b.String()
	}
	if f.Got != "" {
		fmt.Fprintf(&b, " is %s", f.Got)
	}
	if f.Want != "" {
		fmt.Fprintf(&b, ", needs %s", f.Want)
	}
	if f.Fix != "" {
		fmt.Fprintf(&b, ": %s", f.Fix)
	}
	return b.String()
}

// Failed returns the findings that did not pass, of severity sev or
// worse (Fatal is the worst).
func Failed(fs []Finding, sev Severity) []Finding {
	rank := map[Severity]int{Warning: 1, Error: 2, Fatal: 3}
	var out []Finding
	for _, f := range fs {
		if !f.OK && rank[f.Severity] >= rank[sev] {
			out = append(out, f)
		}
	}
	return out
}

// ErrWouldLoseData is what FatalError wraps.
var ErrWouldLoseData = errors.New("the source's settings would lose data")

// FatalError returns an error naming every fatal finding, or nil.
func FatalError(fs []Finding) error {
	bad := Failed(fs, Fatal)
	if len(bad) == 0 {
		return nil
	}
	lines := make([]string, len(bad))
	for i, f := range bad {
		lines[i] = f.String()
	}
	return fmt.Errorf("%w, capture does not start: %s", ErrWouldLoseData, strings.Join(lines, "; "))
}
