package chaos

import (
	"context"
	"fmt"
	"strings"

	"github.com/regionplatform/region/lab/ledger"
)

// The invariants the checker counts, in report order.
const (
	// InvLost: no acknowledged write lost, except exactly the
	// transactions a forced failover reported as its RPO (ledger.CheckLost).
	InvLost = ledger.InvLost
	// InvDuplicate: no duplicate effect (ledger.CheckDuplicate).
	InvDuplicate = ledger.InvDuplicate
	// InvIdentical: every region's tables are identical.
	InvIdentical = "identical"
	// InvEcho: every region's capture published only its own writes.
	InvEcho = "echo"
	// InvFence: no write accepted for a fenced bucket, none by the old
	// owner after the fence, none refused with 503 yet applied.
	InvFence = "fence"
	// InvNotes: the notes job's writes straight into MySQL (notesJob):
	// none lost outside a reported RPO, none that went through the guard
	// logged as an ownership violation, every one without it logged as
	// one exactly where its region did not own the user (checkNotes).
	InvNotes = "notes"
)

// Invariants lists them in report order.
var Invariants = []string{InvLost, InvDuplicate, InvIdentical, InvEcho, InvFence, InvNotes}

// readAll reads every region's ledger of the workload's users.
func (e *Env) readAll(ctx context.Context) (map[string]*ledger.Data, error) {
	regions, closeAll, err := ledger.Regions(e.St)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	return ledger.ReadAll(ctx, regions, e.Users)
}

// expect is what the ledger checks judge the scenario's history against.
func (e *Env) expect() ledger.Expect {
	x := ledger.Expect{Users: e.Users, Excluded: e.Excluded, Lost: e.Lost}
	for _, r := range e.St.Regions {
		x.Regions = append(x.Regions, r.Name)
	}
	return x
}

// checkFence counts writes accepted while their bucket was fenced, by the
// old owner after the fence, or refused (503) and yet applied.
func checkFence(e *Env, h []Write, data map[string]*ledger.Data) Count {
	c := Count{Invariant: InvFence}
	var samples []string
	bad := func(format string, args ...any) {
		c.Violations++
		if len(samples) < 5 {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	for _, w := range h {
		if e.Excluded[w.User] {
			continue
		}
		if w.Outcome == Refused {
			c.Checked++
			for name, d := range data {
				if _, ok := d.Requests[w.ID]; ok {
					bad("%s was refused (503) yet region %s applied it", w.ID, name)
				}
			}
		}
		if w.Outcome != Acked {
			continue
		}
		for _, f := range e.Fences {
			if !f.Users[w.User] || !w.Sent.After(f.From) {
				continue
			}
			c.Checked++
			if w.Answered.Before(f.To) {
				bad("%s (user %d) sent %s, acknowledged by %s within the write-forbidden window of %s (%s..%s)", w.ID, w.User,
					w.Sent.Format("15:04:05.000"), w.Region, f.What, f.From.Format("15:04:05.000"), f.To.Format("15:04:05.000"))
			} else if w.Region == f.OldRegion && (f.Until.IsZero() || w.Answered.Before(f.Until)) {
				bad("%s (user %d) sent %s after %s fenced region %s, acknowledged by it", w.ID, w.User, w.Sent.Format("15:04:05.000"), f.What, f.OldRegion)
			}
		}
	}
	c.Detail = strings.Join(samples, "; ")
	return c
}
