package controller

import (
	"strings"
	"testing"
	"time"
)

func TestReadOnly(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 12, 3, 7, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		name string
		st   State
		owns bool   // the region owns buckets
		want string // "" writable, "?" undecided, else part of why
	}{
		{"no failover", State{}, false, ""},
		{"fenced", State{Regions: map[string]Region{"a": {Fenced: true, FenceReason: "forced failover f1"}}}, true, "fenced: forced failover f1"},
		{"planned failover running", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindPlanned, From: "a", To: "b", State: FailoverRunning, StartedAt: at(1)}}}, true, "?"},
		{"forced failover running", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindForced, From: "a", To: "b", State: FailoverRunning, StartedAt: at(1)}}}, true, "being failed over to b by f1"},
		{"planned failover done", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindPlanned, From: "a", To: "b", State: FailoverDone, StartedAt: at(1)}}}, false, "fail back"},
		{"buckets moved in again after a planned failover", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindPlanned, From: "a", To: "b", State: FailoverDone, StartedAt: at(1)}}}, true, ""},
		{"rolled back", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverRolledBack, StartedAt: at(1)}}}, false, ""},
		{"failback running", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverDone, StartedAt: at(1)},
			"f2": {ID: "f2", From: "b", To: "a", State: FailoverRunning, StartedAt: at(2), Undoes: "f1"}}}, false, ""},
		{"failed over again after a failback", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverDone, StartedAt: at(1)},
			"f2": {ID: "f2", From: "b", To: "a", State: FailoverDone, StartedAt: at(2), Undoes: "f1"},
			"f3": {ID: "f3", From: "a", To: "c", State: FailoverDone, StartedAt: at(3)}}}, false, "failed over to c by f3"},
		{"another region's failover", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "b", To: "a", State: FailoverDone, StartedAt: at(1)}}}, false, ""},
	} {
		ro, decided, why := c.st.ReadOnly("a", c.owns)
		switch {
		case c.want == "?":
			if decided {
				t.Errorf("%s: ReadOnly = %v %q, want undecided", c.name, ro, why)
			}
		case !decided || ro != (c.want != "") || !strings.Contains(why, c.want):
			t.Errorf("%s: ReadOnly = %v (decided %v) %q, want %q", c.name, ro, decided, why, c.want)
		}
	}
}
