package ledger

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
	ID   string `json:"id"`
	User int64  `json:"user"`
	Kind string `json:"kind"`
	From int    `json:"from"`
	To   int    `json:"to"`
	// ToUser is the payee of a payment (kind pay), 0 otherwise.
	ToUser int64 `json:"to_user,omitempty"`
	Amount int64 `json:"amount_cents"`
	// Started is when the first attempt was sent; Sent when the attempt
	// that got the final answer was sent; Answered when that answer
	// arrived.
	Started  time.Time `json:"started"`
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

// Summary is what the clients saw of a history, for reports.
type Summary struct {
	// Acked counts acknowledged writes; Refused the 503 answers (each
	// retried); Failed the writes of unknown outcome (not retried).
	Acked   int `json:"acked"`
	Refused int `json:"refused"`
	Failed  int `json:"failed"`
	// ByRegion counts acknowledged writes by the region that served them.
	ByRegion map[string]int `json:"by_region"`
	// LongestBlockMS is the longest an acknowledged write took from its
	// first attempt to its answer: what a user saw of a fence.
	LongestBlockMS int64 `json:"longest_block_ms"`
	// Errors samples what the clients saw of writes of unknown outcome.
	Errors []string `json:"errors,omitempty"`
}

// Summarize counts a history's writes.
func Summarize(writes []Write) *Summary {
	s := &Summary{ByRegion: map[string]int{}}
	for _, w := range writes {
		s.Refused += w.Refusals
		switch w.Outcome {
		case Acked:
			s.Acked++
			s.ByRegion[w.Region]++
			s.LongestBlockMS = max(s.LongestBlockMS, w.Answered.Sub(w.Started).Milliseconds())
		case Unknown:
			s.Failed++
			if len(s.Errors) < 10 {
				s.Errors = append(s.Errors, w.ID+": "+w.Err)
			}
		}
	}
	return s
}
