package chaos

import (
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
)

// fakeEnv is an Env of two regions and two users, for the pure checks.
func fakeEnv() *Env {
	return &Env{St: &lab.State{Regions: []lab.RegionState{{Name: "a"}, {Name: "b"}}}, Users: []int64{1, 2}, Excluded: map[int64]bool{}}
}

// holding is a region's data holding exactly the given request ids.
func holding(ids ...string) *ledger.Data {
	d := &ledger.Data{Requests: map[string]ledger.Request{}}
	for _, id := range ids {
		d.Requests[id] = ledger.Request{User: 1}
	}
	return d
}

// TestFenceCountsWhatBroke: a write acknowledged inside a fence window,
// by the old owner after it, or refused yet applied is counted; the new
// owner's after the flip is not. (The lost and duplicate checks have
// their own self-tests in lab/ledger.)
func TestFenceCountsWhatBroke(t *testing.T) {
	e := fakeEnv()
	t0 := time.Now()
	hist := []Write{{ID: "w1", User: 1, Outcome: Acked, GTID: "1-1-5", Region: "a", Sent: t0, Answered: t0.Add(time.Millisecond)}}
	good := func() map[string]*ledger.Data { return map[string]*ledger.Data{"a": holding("w1"), "b": holding("w1")} }
	if c := checkFence(e, hist, good()); c.Violations != 0 || c.Checked != 0 {
		t.Errorf("no fence: %+v", c)
	}
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
	if c := checkFence(e, hist, map[string]*ledger.Data{"a": holding(), "b": holding()}); c.Violations != 0 || c.Checked != 1 {
		t.Errorf("refused and applied nowhere: %+v", c)
	}
}
