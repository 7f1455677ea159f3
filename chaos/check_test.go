package chaos

import (
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
)

// TestGTIDSet: a failover's lost GTID list (ranges and single GTIDs, in
// several reports) answers membership exactly.
func TestGTIDSet(t *testing.T) {
	s := newGTIDSet([]string{"2-2-14581-14582,2-2-14586", "1-1-7"})
	for gtid, want := range map[string]bool{
		"2-2-14581": true, "2-2-14582": true, "2-2-14586": true, "1-1-7": true,
		"2-2-14580": false, "2-2-14583": false, "1-1-8": false, "1-2-7": false, "": false, "poison": false,
	} {
		if got := s.has(gtid); got != want {
			t.Errorf("has(%q) = %v, want %v", gtid, got, want)
		}
	}
}

// fakeEnv is an Env of two regions and two users, for the pure checks.
func fakeEnv() *Env {
	return &Env{St: &lab.State{Regions: []lab.RegionState{{Name: "a"}, {Name: "b"}}}, Users: []int64{1, 2}, Excluded: map[int64]bool{}}
}

// ledger builds one region's data for users 1 and 2 after moves.
func ledger(moves map[string]request) *regionData {
	d := &regionData{requests: map[string]request{}, balances: map[int64]int64{}, totals: map[int64][2]int64{}}
	for _, u := range []int64{1, 2} {
		for k := range lab.LedgerAccounts {
			d.balances[lab.LedgerAccount(u, k)] = lab.LedgerOpening(k)
		}
		d.totals[u] = [2]int64{lab.WalletOpening + lab.LoanOpening, 0}
	}
	for id, m := range moves {
		d.requests[id] = m
		d.balances[m.from] -= m.amount
		d.balances[m.to] += m.amount
		t := d.totals[m.user]
		t[1]++
		d.totals[m.user] = t
	}
	return d
}

// TestChecksCountWhatBroke: each kind of damage is counted by its own
// invariant and by no other.
func TestChecksCountWhatBroke(t *testing.T) {
	e := fakeEnv()
	t0 := time.Now()
	mv := request{user: 1, from: lab.LedgerAccount(1, lab.Wallet), to: lab.LedgerAccount(1, lab.Savings), amount: 100}
	hist := []Write{{ID: "w1", User: 1, Outcome: Acked, GTID: "1-1-5", Region: "a", Sent: t0, Answered: t0.Add(time.Millisecond)}}
	good := func() map[string]*regionData {
		return map[string]*regionData{"a": ledger(map[string]request{"w1": mv}), "b": ledger(map[string]request{"w1": mv})}
	}
	if c := checkLost(e, hist, good()); c.Violations != 0 || c.Checked != 1 {
		t.Errorf("clean lost = %+v", c)
	}
	if c := checkDuplicate(e, hist, good()); c.Violations != 0 || c.Checked != 4 {
		t.Errorf("clean duplicate = %+v", c)
	}

	// Lost in b; then explained by a reported RPO.
	data := good()
	data["b"] = ledger(nil)
	if c := checkLost(e, hist, data); c.Violations != 1 {
		t.Errorf("lost write: %+v", c)
	}
	if c := checkDuplicate(e, hist, data); c.Violations != 0 {
		t.Errorf("a cleanly lost write counted as duplicate: %+v", c)
	}
	e.Lost = []string{"1-1-4-6"}
	if c := checkLost(e, hist, data); c.Violations != 0 || c.Explained != 1 {
		t.Errorf("lost write in the RPO: %+v", c)
	}
	e.Lost = nil

	// Applied twice: balances moved and counter bumped again.
	data = good()
	d := data["a"]
	d.balances[mv.from] -= mv.amount
	d.balances[mv.to] += mv.amount
	d.totals[1] = [2]int64{d.totals[1][0], d.totals[1][1] + 1}
	if c := checkDuplicate(e, hist, data); c.Violations != 1 {
		t.Errorf("applied twice: %+v", c)
	}
	// A balance changed without a request; a row no client sent.
	data = good()
	data["b"].balances[mv.to]++
	data["a"].requests["ghost"] = request{user: 2, from: lab.LedgerAccount(2, lab.Wallet), to: lab.LedgerAccount(2, lab.Loan), amount: 0}
	// The ghost row counts twice: unsent, and user 2's counter short.
	if c := checkDuplicate(e, hist, data); c.Violations != 3 {
		t.Errorf("a stray balance and a ghost row: %+v", c)
	}

	// Fence: acked inside the window; by the old owner after it; refused
	// yet applied.
	e.Fences = []Fence{{What: "switch s1", Users: map[int64]bool{1: true}, From: t0.Add(-time.Second), To: t0.Add(time.Second), OldRegion: "b"}}
	if c := checkFence(e, hist, good()); c.Violations != 1 || c.Checked != 1 {
		t.Errorf("acked inside the fence window: %+v", c)
	}
	e.Fences[0].To = t0.Add(-time.Millisecond)
	hist[0].Region = "b"
	if c := checkFence(e, hist, good()); c.Violations != 1 {
		t.Errorf("acked by the old owner after the fence: %+v", c)
	}
	hist[0].Region = "a"
	if c := checkFence(e, hist, good()); c.Violations != 0 {
		t.Errorf("acked by the new owner after the flip: %+v", c)
	}
	e.Fences = nil
	hist[0].Outcome = Refused
	if c := checkFence(e, hist, good()); c.Violations != 2 {
		t.Errorf("refused yet applied in both regions: %+v", c)
	}
}
