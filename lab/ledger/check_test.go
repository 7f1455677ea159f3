package ledger

import (
	"strconv"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/topo"
)

// TestGTIDSet: a failover's lost GTID list (ranges and single GTIDs, in
// several reports) answers membership exactly.
func TestGTIDSet(t *testing.T) {
	s := NewGTIDSet([]string{"2-2-14581-14582,2-2-14586", "1-1-7"})
	for gtid, want := range map[string]bool{
		"2-2-14581": true, "2-2-14582": true, "2-2-14586": true, "1-1-7": true,
		"2-2-14580": false, "2-2-14583": false, "1-1-8": false, "1-2-7": false, "": false, "poison": false,
	} {
		if got := s.Has(gtid); got != want {
			t.Errorf("has(%q) = %v, want %v", gtid, got, want)
		}
	}
}

// Data builds one region's data for users 1 and 2 after moves.
func ledgerOf(moves map[string]Request) *Data {
	d := &Data{Requests: map[string]Request{}, Balances: map[int64]int64{}, Totals: map[int64][2]int64{}}
	for _, u := range []int64{1, 2} {
		for k := range lab.LedgerAccounts {
			d.Balances[lab.LedgerAccount(u, k)] = lab.LedgerOpening(k)
		}
		d.Totals[u] = [2]int64{lab.WalletOpening + lab.LoanOpening, 0}
	}
	for id, m := range moves {
		d.Requests[id] = m
		d.Balances[m.From] -= m.Amount
		d.Balances[m.To] += m.Amount
		tot := d.Totals[m.User]
		tot[1]++
		d.Totals[m.User] = tot
		if payer, payee := m.From/10, m.To/10; payer != payee {
			p, q := d.Totals[payer], d.Totals[payee]
			p[0] -= m.Amount
			q[0] += m.Amount
			d.Totals[payer], d.Totals[payee] = p, q
		}
	}
	return d
}

// TestPaymentsBetweenUsers: a payment changes both users' totals; a
// region that applied it to one user only breaks the duplicate check.
func TestPaymentsBetweenUsers(t *testing.T) {
	x := Expect{Regions: []string{"a"}, Users: []int64{1, 2}, Excluded: map[int64]bool{}}
	pay := Request{User: 1, From: lab.LedgerAccount(1, lab.Wallet), To: lab.LedgerAccount(2, lab.Wallet), Amount: 700}
	hist := []Write{{ID: "p1", User: 1, ToUser: 2, Kind: "pay", Outcome: Acked, GTID: "1-1-5", Region: "a"}}
	d := ledgerOf(map[string]Request{"p1": pay})
	if c := CheckDuplicate(x, hist, map[string]*Data{"a": d}); c.Violations != 0 || c.Checked != 2 {
		t.Errorf("a clean payment: %+v", c)
	}
	d.Balances[lab.LedgerAccount(2, lab.Wallet)] -= 700 // the payee's side lost
	if c := CheckDuplicate(x, hist, map[string]*Data{"a": d}); c.Violations != 1 {
		t.Errorf("a payment applied to the payer only: %+v", c)
	}
}

// TestPairs: users come in pairs of one bucket, all distinct.
func TestPairs(t *testing.T) {
	users, last := Pairs(100, 10, 1024)
	seen := map[int64]bool{}
	for i, u := range users {
		if seen[u] || u < 100 || u > last {
			t.Fatalf("user %d repeated or out of range in %v (last %d)", u, users, last)
		}
		seen[u] = true
		if i%2 == 1 && topo.BucketOfString(strconv.FormatInt(u, 10), 1024) != topo.BucketOfString(strconv.FormatInt(users[i-1], 10), 1024) {
			t.Errorf("users %d and %d are not in one bucket", users[i-1], u)
		}
	}
	if len(users) != 10 {
		t.Errorf("%d users, want 10", len(users))
	}
}

// TestChecksCountWhatBroke: each kind of damage is counted by its own
// check and not by the other.
func TestChecksCountWhatBroke(t *testing.T) {
	x := Expect{Regions: []string{"a", "b"}, Users: []int64{1, 2}, Excluded: map[int64]bool{}}
	t0 := time.Now()
	mv := Request{User: 1, From: lab.LedgerAccount(1, lab.Wallet), To: lab.LedgerAccount(1, lab.Savings), Amount: 100}
	hist := []Write{{ID: "w1", User: 1, Outcome: Acked, GTID: "1-1-5", Region: "a", Sent: t0, Answered: t0.Add(time.Millisecond)}}
	good := func() map[string]*Data {
		return map[string]*Data{"a": ledgerOf(map[string]Request{"w1": mv}), "b": ledgerOf(map[string]Request{"w1": mv})}
	}
	if c := CheckLost(x, hist, good()); c.Violations != 0 || c.Checked != 1 {
		t.Errorf("clean lost = %+v", c)
	}
	if c := CheckDuplicate(x, hist, good()); c.Violations != 0 || c.Checked != 4 {
		t.Errorf("clean duplicate = %+v", c)
	}

	// Lost in b; then explained by a reported RPO; an RPO that names a
	// write every region holds overcounts.
	data := good()
	data["b"] = ledgerOf(nil)
	if c := CheckLost(x, hist, data); c.Violations != 1 {
		t.Errorf("lost write: %+v", c)
	}
	if c := CheckDuplicate(x, hist, data); c.Violations != 0 {
		t.Errorf("a cleanly lost write counted as duplicate: %+v", c)
	}
	x.Lost = []string{"1-1-4-6"}
	if c := CheckLost(x, hist, data); c.Violations != 0 || c.Explained != 1 {
		t.Errorf("lost write in the RPO: %+v", c)
	}
	if c := CheckLost(x, hist, good()); c.Violations != 1 || c.Explained != 0 {
		t.Errorf("the RPO names a write every region holds: %+v", c)
	}
	x.Lost = nil
	// An excluded user's writes are not judged.
	x.Excluded = map[int64]bool{1: true}
	if c := CheckLost(x, hist, data); c.Violations != 0 || c.Checked != 0 {
		t.Errorf("excluded user: %+v", c)
	}
	x.Excluded = map[int64]bool{}

	// Applied twice: balances moved and counter bumped again.
	data = good()
	d := data["a"]
	d.Balances[mv.From] -= mv.Amount
	d.Balances[mv.To] += mv.Amount
	d.Totals[1] = [2]int64{d.Totals[1][0], d.Totals[1][1] + 1}
	if c := CheckDuplicate(x, hist, data); c.Violations != 1 {
		t.Errorf("applied twice: %+v", c)
	}
	// A balance changed without a request; a row no client sent.
	data = good()
	data["b"].Balances[mv.To]++
	data["a"].Requests["ghost"] = Request{User: 2, From: lab.LedgerAccount(2, lab.Wallet), To: lab.LedgerAccount(2, lab.Loan), Amount: 0}
	// The ghost row counts twice: unsent, and user 2's counter short.
	if c := CheckDuplicate(x, hist, data); c.Violations != 3 {
		t.Errorf("a stray balance and a ghost row: %+v", c)
	}
	// A write of unknown outcome that landed is no duplicate: it was sent.
	data = good()
	unknown := Request{User: 2, From: lab.LedgerAccount(2, lab.Wallet), To: lab.LedgerAccount(2, lab.Loan), Amount: 7}
	for _, r := range []string{"a", "b"} {
		data[r] = ledgerOf(map[string]Request{"w1": mv, "w2": unknown})
	}
	if c := CheckDuplicate(x, append(hist, Write{ID: "w2", User: 2, Outcome: Unknown}), data); c.Violations != 0 {
		t.Errorf("a write of unknown outcome that landed: %+v", c)
	}
}

// TestSummarize: a history's counts for reports.
func TestSummarize(t *testing.T) {
	t0 := time.Now()
	s := Summarize([]Write{
		{ID: "w1", Outcome: Acked, Region: "a", Started: t0, Answered: t0.Add(30 * time.Millisecond)},
		{ID: "w2", Outcome: Acked, Region: "b", Refusals: 3, Started: t0, Answered: t0.Add(250 * time.Millisecond)},
		{ID: "w3", Outcome: Unknown, Err: "EOF"},
		{ID: "w4", Outcome: Refused, Refusals: 2},
	})
	if s.Acked != 2 || s.Refused != 5 || s.Failed != 1 || s.ByRegion["a"] != 1 || s.ByRegion["b"] != 1 || s.LongestBlockMS != 250 || len(s.Errors) != 1 || s.Errors[0] != "w3: EOF" {
		t.Errorf("summary = %+v", s)
	}
}
