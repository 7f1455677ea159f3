package chaos

import "github.com/regionplatform/region/lab/ledger"

// The scenarios' load is the ledger workload (package lab/ledger, shared
// with the drills, benchmarks and tests); these are its client history
// and checker counts under the names the faults and reports use.
type (
	// Write is one client request and what became of it.
	Write = ledger.Write
	// Outcome is what a client learnt of one write.
	Outcome = ledger.Outcome
	// Count is what one invariant's check found.
	Count = ledger.Count
)

// Outcomes of a write.
const (
	Acked   = ledger.Acked
	Unknown = ledger.Unknown
	Refused = ledger.Refused
)
