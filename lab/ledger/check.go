package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/regionplatform/region/lab"
)

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

// The invariants this package checks.
const (
	// InvLost: no acknowledged write lost, except exactly the
	// transactions a forced failover reported as its RPO (and none of
	// those is held by every region: the RPO does not overcount).
	InvLost = "lost"
	// InvDuplicate: no duplicate effect: each user's applied counter
	// equals its request rows, its balances follow from them and sum to
	// the user's total, which only payments between users change; no row
	// the clients never sent; no
	// promotion rolled back to its savepoint was committed.
	InvDuplicate = "duplicate"
)

// Data is what one region holds of the workload's users.
type Data struct {
	// Requests are the request rows by request id.
	Requests map[string]Request
	Balances map[int64]int64    // account id -> balance
	Totals   map[int64][2]int64 // user -> total, applied
	// Promos counts promos rows (of any user): always 0.
	Promos int
}

// Request is one request row.
type Request struct {
	User, From, To, Amount int64
}

// Expect is what the checks judge a history against.
type Expect struct {
	// Regions are the region names, in report order.
	Regions []string
	// Users are the workload's users; Excluded ones are not judged (a
	// fault checks them itself).
	Users    []int64
	Excluded map[int64]bool
	// Lost are the GTIDs forced failovers reported lost (their RPO): a
	// missing write among them is explained.
	Lost []string
}

// Read reads the users' ledger rows in one region.
func Read(ctx context.Context, db *sql.DB, users []int64) (*Data, error) {
	d := &Data{Requests: map[string]Request{}, Balances: map[int64]int64{}, Totals: map[int64][2]int64{}}
	in := InList(users)
	db0 := lab.SampleDatabase + "."
	rows, err := db.QueryContext(ctx, "SELECT request_id, user_id, from_account, to_account, amount_cents FROM "+db0+"requests WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var r Request
		if err := rows.Scan(&id, &r.User, &r.From, &r.To, &r.Amount); err != nil {
			rows.Close()
			return nil, err
		}
		d.Requests[id] = r
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "SELECT id, balance_cents FROM "+db0+"accounts WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, b int64
		if err := rows.Scan(&id, &b); err != nil {
			rows.Close()
			return nil, err
		}
		d.Balances[id] = b
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "SELECT user_id, total_cents, applied FROM "+db0+"ledger_totals WHERE user_id IN ("+in+")")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var u, t, a int64
		if err := rows.Scan(&u, &t, &a); err != nil {
			rows.Close()
			return nil, err
		}
		d.Totals[u] = [2]int64{t, a}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return d, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+db0+"promos").Scan(&d.Promos)
}

// InList is users as an SQL IN list (NULL when empty: matches nothing).
func InList(users []int64) string {
	s := make([]string, len(users))
	for i, u := range users {
		s[i] = strconv.FormatInt(u, 10)
	}
	if len(s) == 0 {
		return "NULL"
	}
	return strings.Join(s, ",")
}

// CheckLost counts acknowledged writes missing from a region, less the
// ones whose GTID a forced failover reported lost (Explained); an
// acknowledged write every region holds whose GTID is in the reported
// RPO is a violation too (the RPO overcounts).
func CheckLost(x Expect, h []Write, data map[string]*Data) Count {
	c := Count{Invariant: InvLost}
	lost := NewGTIDSet(x.Lost)
	var samples []string
	for _, w := range h {
		if w.Outcome != Acked || x.Excluded[w.User] {
			continue
		}
		c.Checked++
		var missing []string
		for _, r := range x.Regions {
			if _, ok := data[r].Requests[w.ID]; !ok {
				missing = append(missing, r)
			}
		}
		switch {
		case len(missing) == 0 && lost.Has(w.GTID):
			// The RPO must be exact: a transaction it calls lost that
			// every region holds was counted lost wrongly.
			c.Violations++
			if len(samples) < 5 {
				samples = append(samples, fmt.Sprintf("%s (user %d, %s in %s) is in the reported RPO but every region holds it: the RPO overcounts", w.ID, w.User, w.GTID, w.Region))
			}
		case len(missing) == 0:
		case lost.Has(w.GTID):
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

// CheckDuplicate counts (region, user) pairs whose ledger does not add
// up, and rows no client sent.
func CheckDuplicate(x Expect, h []Write, data map[string]*Data) Count {
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
	for _, r := range x.Regions {
		d := data[r]
		if d.Promos > 0 {
			bad("region %s holds %d promos rows: a transaction's rollback to its savepoint was not kept", r, d.Promos)
		}
		perUser := map[int64]int64{}
		expect := map[int64]int64{} // account -> balance change
		paid := map[int64]int64{}   // user -> total change by payments between users
		for id, q := range d.Requests {
			if !sent[id] {
				bad("region %s holds request %s no client sent", r, id)
			}
			perUser[q.User]++
			expect[q.From] -= q.Amount
			expect[q.To] += q.Amount
			if payer, payee := q.From/10, q.To/10; payer != payee {
				paid[payer] -= q.Amount
				paid[payee] += q.Amount
			}
		}
		for _, u := range x.Users {
			if x.Excluded[u] {
				continue
			}
			c.Checked++
			t, ok := d.Totals[u]
			if !ok {
				bad("region %s: user %d has no ledger", r, u)
				continue
			}
			sum := int64(0)
			var off []string
			for k := range lab.LedgerAccounts {
				id := lab.LedgerAccount(u, k)
				b := d.Balances[id]
				sum += b
				if w := lab.LedgerOpening(k) + expect[id]; b != w {
					off = append(off, fmt.Sprintf("%s %d, its requests make %d", lab.LedgerAccounts[k], b, w))
				}
			}
			switch {
			case t[1] != perUser[u]:
				bad("region %s: user %d applied %d requests, holds %d request rows", r, u, t[1], perUser[u])
			case sum != want+paid[u] || t[0] != want+paid[u]:
				bad("region %s: user %d's balances sum to %d (total %d), want %d (payments between users: %+d)", r, u, sum, t[0], want+paid[u], paid[u])
			case len(off) > 0:
				sort.Strings(off)
				bad("region %s: user %d: %s", r, u, strings.Join(off, "; "))
			}
		}
	}
	c.Detail = strings.Join(samples, "; ")
	return c
}
