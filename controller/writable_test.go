package controller

import (
	"strings"
	"testing"
	"time"
)

func TestWritable(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 12, 3, 7, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		name string
		st   State
		want string // "" writable, else part of why
	}{
		{"no failover", State{}, ""},
		{"fenced", State{Regions: map[string]Region{"a": {Fenced: true, FenceReason: "forced failover f1"}}}, "fenced: forced failover f1"},
		{"planned failover running", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindPlanned, From: "a", To: "b", State: FailoverRunning, StartedAt: at(1)}}}, "failed over to b by f1"},
		{"planned failover done", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", Kind: KindPlanned, From: "a", To: "b", State: FailoverDone, StartedAt: at(1)}}}, "fail back"},
		{"rolled back", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverRolledBack, StartedAt: at(1)}}}, ""},
		{"failback running", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverDone, StartedAt: at(1)},
			"f2": {ID: "f2", From: "b", To: "a", State: FailoverRunning, StartedAt: at(2), Undoes: "f1"}}}, ""},
		{"failed over again after a failback", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "a", To: "b", State: FailoverDone, StartedAt: at(1)},
			"f2": {ID: "f2", From: "b", To: "a", State: FailoverDone, StartedAt: at(2), Undoes: "f1"},
			"f3": {ID: "f3", From: "a", To: "c", State: FailoverDone, StartedAt: at(3)}}}, "failed over to c by f3"},
		{"another region's failover", State{Failovers: map[string]FailoverRecord{
			"f1": {ID: "f1", From: "b", To: "a", State: FailoverDone, StartedAt: at(1)}}}, ""},
	} {
		ok, why := c.st.Writable("a")
		if ok != (c.want == "") || !strings.Contains(why, c.want) {
			t.Errorf("%s: Writable = %v %q, want %q", c.name, ok, why, c.want)
		}
	}
}
