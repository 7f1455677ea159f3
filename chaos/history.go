package chaos

import (
	"sync"
	"time"
)

// Outcome is what a client learnt of one write.
type Outcome string

// Outcomes of a write.
const (
	// Acked: the app answered 201 (or 200: the request id was applied
	// before); the write must be in every region.
	Acked Outcome = "acked"
	// Unknown: no answer (connection lost, timeout, 5xx); the write may
	// or may not have landed, and is not retried.
	Unknown Outcome = "unknown"
	// Refused: every attempt was refused with 503 (its bucket fenced)
	// until the load ended; it must be in no region.
	Refused Outcome = "refused"
)

// Write is one client request of the ledger workload and what became of
// it: the client-side history the checker compares every region with.
type Write struct {
	ID     string `json:"id"`
	User   int64  `json:"user"`
	Kind   string `json:"kind"`
	From   int    `json:"from"`
	To     int    `json:"to"`
	Amount int64  `json:"amount_cents"`
	// Sent is when the attempt that got the final answer was sent;
	// Answered when the answer arrived.
	Sent     time.Time `json:"sent"`
	Answered time.Time `json:"answered"`
	Outcome  Outcome   `json:"outcome"`
	// Region served the acknowledged write; GTID is the transaction that
	// applied it there.
	Region string `json:"region,omitempty"`
	GTID   string `json:"gtid,omitempty"`
	// Refusals counts the 503 answers before the final one.
	Refusals int    `json:"refusals,omitempty"`
	Err      string `json:"error,omitempty"`
}

// History is the client-side record of a workload: every write sent and
// its outcome. It is safe for concurrent use.
type History struct {
	mu     sync.Mutex
	writes []Write
}

func (h *History) add(w Write) {
	h.mu.Lock()
	h.writes = append(h.writes, w)
	h.mu.Unlock()
}

// Writes returns a copy of the writes recorded so far.
func (h *History) Writes() []Write {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Write(nil), h.writes...)
}

// Counts returns how many writes had each outcome.
func (h *History) Counts() map[Outcome]int {
	out := map[Outcome]int{}
	for _, w := range h.Writes() {
		out[w.Outcome]++
	}
	return out
}
