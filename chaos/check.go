package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/regionplatform/region/lab"
)

// The invariants the checker counts, in report order.
const (
	// InvLost: no acknowledged write lost, except exactly the
	// transactions a forced failover reported as its RPO (and none of
	// those is held by every region: the RPO does not overcount).
	InvLost = "lost"
	// InvDuplicate: no duplicate effect: each user's applied counter
	// equals its request rows, its balances follow from them and sum to
	// the user's constant total; no row the clients never sent.
	InvDuplicate = "duplicate"
	// InvIdentical: every region's tables are identical.
	InvIdentical = "identical"
	// InvEcho: every region's capture published only its own writes.
	InvEcho = "echo"
	// InvFence: no write accepted for a fenced bucket, none by the old
	// owner after the fence, none refused with 503 yet applied.
	InvFence = "fence"
)

// Invariants lists them in report order.
var Invariants = []string{InvLost, InvDuplicate, InvIdentical, InvEcho, InvFence}

// Count is what one invariant's check found: how many things it
// checked, how many broke it, and (lost writes) how many the reported
// RPO explains.
type Count struct {
	Invariant  string `json:"invariant"`
	Checked    int    `json:"checked"`
	Violations int    `json:"violations"`
	Explained  int    `json:"explained,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// regionData is what one region holds of the workload's users.
type regionData struct {
	requests map[string]request
	balances map[int64]int64 // account id -> balance
	totals   map[int64][2]int64
}

type request struct {
	user, from, to, amount int64
}

// readRegion reads the workload's users' ledger rows in one region.
func readRegion(ctx context.Context, db *sql.DB, users []int64) (*regionData, error) {
	d := &regionData{requests: map[string]request{}, balances: map[int64]int64{}, totals: map[int64][2]int64{}}
	in := inList(users)
	rows, err := db.QueryContext(ctx, "SELECT request_id, user_id, from_account, to_account, amount_cents FROM requests WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var r request
		if err := rows.Scan(&id, &r.user, &r.from, &r.to, &r.amount); err != nil {
			rows.Close()
			return nil, err
		}
		d.requests[id] = r
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "SELECT id, balance_cents FROM accounts WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, b int64
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return nil, err
		}
		d.balances[id] = b
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "SELECT user_id, total_cents, applied FROM ledger_totals WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u, t, a int64
		if err := rows.Scan(&u, &t, &a); err != nil {
			return nil, err
		}
		d.totals[u] = [2]int64{t, a}
	}
	return d, rows.Err()
}

func inList(users []int64) string {
	s := make([]string, len(users))
	for i, u := range users {
		s[i] = strconv.FormatInt(u, 10)
	}
	if len(s) == 0 {
		return "NULL"
	}
	return strings.Join(s, ",")
}

// readAll reads every region's data of the workload's users.
func (e *Env) readAll(ctx context.Context) (map[string]*regionData, error) {
	out := map[string]*regionData{}
	for _, r := range e.St.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, lab.SampleDatabase)
		if err != nil {
			return nil, err
		}
		d, err := readRegion(ctx, db, e.Users)
		db.Close()
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err)
		}
		out[r.Name] = d
	}
	return out, nil
}

// checkLost counts acknowledged writes missing from a region, less the
// ones whose GTID a forced failover reported lost.
func checkLost(e *Env, h []Write, data map[string]*regionData) Count {
	c := Count{Invariant: InvLost}
	lost := newGTIDSet(e.Lost)
	var samples []string
	for _, w := range h {
		if w.Outcome != Acked || e.Excluded[w.User] {
			continue
		}
		c.Checked++
		var missing []string
		for _, r := range e.St.Regions {
			if _, ok := data[r.Name].requests[w.ID]; !ok {
				missing = append(missing, r.Name)
			}
		}
		switch {
		case len(missing) == 0 && lost.has(w.GTID):
			// The RPO must be exact: a transaction it calls lost that
			// every region holds was counted lost wrongly.
			c.Violations++
			if len(samples) < 5 {
				samples = append(samples, fmt.Sprintf("%s (user %d, %s in %s) is in the reported RPO but every region holds it: the RPO overcounts", w.ID, w.User, w.GTID, w.Region))
			}
		case len(missing) == 0:
		case lost.has(w.GTID):
			c.Explained++
		default:
			c.Violations++
			if len(samples) < 5 {
				samples = append(samples, fmt.Sprintf("%s (user %d, %s in %s) missing in %s", w.ID, w.User, w.GTID, w.Region, strings.Join(missing, ",")))
			}
		}
	}
	c.Detail = strings.Join(samples, "; ")
	if c.Explained > 0 {
		c.Detail = strings.TrimPrefix(c.Detail+fmt.Sprintf("; %d missing writes are in the RPO the failover reported", c.Explained), "; ")
	}
	return c
}

// checkDuplicate counts (region, user) pairs whose ledger does not add
// up, and rows no client sent.
func checkDuplicate(e *Env, h []Write, data map[string]*regionData) Count {
	c := Count{Invariant: InvDuplicate}
	sent := map[string]bool{}
	for _, w := range h {
		sent[w.ID] = true
	}
	var samples []string
	bad := func(format string, args ...any) {
		c.Violations++
		if len(samples) < 5 {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	want := lab.WalletOpening + lab.LoanOpening
	for _, r := range e.St.Regions {
		d := data[r.Name]
		perUser := map[int64]int64{}
		expect := map[int64]int64{}
		for id, q := range d.requests {
			if !sent[id] {
				bad("region %s holds request %s no client sent", r.Name, id)
			}
			perUser[q.user]++
			expect[q.from] -= q.amount
			expect[q.to] += q.amount
		}
		for _, u := range e.Users {
			if e.Excluded[u] {
				continue
			}
			c.Checked++
			t, ok := d.totals[u]
			if !ok {
				bad("region %s: user %d has no ledger", r.Name, u)
				continue
			}
			sum := int64(0)
			var off []string
			for k := range lab.LedgerAccounts {
				id := lab.LedgerAccount(u, k)
				b := d.balances[id]
				sum += b
				if w := lab.LedgerOpening(k) + expect[id]; b != w {
					off = append(off, fmt.Sprintf("%s %d, its requests make %d", lab.LedgerAccounts[k], b, w))
				}
			}
			switch {
			case t[1] != perUser[u]:
				bad("region %s: user %d applied %d requests, holds %d request rows", r.Name, u, t[1], perUser[u])
			case sum != want || t[0] != want:
				bad("region %s: user %d's balances sum to %d (total %d), want %d", r.Name, u, sum, t[0], want)
			case len(off) > 0:
				sort.Strings(off)
				bad("region %s: user %d: %s", r.Name, u, strings.Join(off, "; "))
			}
		}
	}
	c.Detail = strings.Join(samples, "; ")
	return c
}

// checkFence counts writes accepted while their bucket was fenced, by the
// old owner after the fence, or refused (503) and yet applied.
func checkFence(e *Env, h []Write, data map[string]*regionData) Count {
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
				if _, ok := d.requests[w.ID]; ok {
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
