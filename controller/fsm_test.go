package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func at(sec int) Header { return Header{At: t0.Add(time.Duration(sec) * time.Second), Actor: "test"} }

// applyAll applies the commands through the FSM as Raft would (encoded,
// one log entry each) and fails the test on any error.
func applyAll(t *testing.T, f *fsm, cmds ...Command) {
	t.Helper()
	for i, c := range cmds {
		if err := applyOne(f, uint64(i+1), c); err != nil {
			t.Fatalf("%s: %v", c.Op(), err)
		}
	}
}

func applyOne(f *fsm, index uint64, c Command) error {
	b, err := EncodeCommand(c)
	if err != nil {
		return err
	}
	return applyRaw(f, index, b)
}

func applyRaw(f *fsm, index uint64, b []byte) error {
	res := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b})
	if a, ok := res.(applied); ok {
		return a.err
	}
	return nil
}

// history is a run through every op.
func history() []Command {
	rpo := &RPO{LastAppliedGTID: "1-1-100", LostGTIDs: "1-1-101-103", LostCount: 3}
	return []Command{
		&PlaceCell{Header: at(0), Cell: "cell-1", Home: "a", Standby: "b"},
		&PlaceCell{Header: at(1), Cell: "cell-2", Home: "b", Standby: "a"},
		&MarkRegionFailed{Header: at(2), Region: "a", Reason: "majority lost a", CooldownUntil: t0.Add(5 * time.Minute)},
		&BeginFailover{Header: at(3), ID: "fo-1", Kind: KindForced, From: "a", To: "b", Reason: "region a failed"},
		&StepFailover{Header: at(4), ID: "fo-1", Step: "fence a in etcd", Result: "ok"},
		&PlaceCell{Header: at(5), Cell: "cell-1", Home: "b", Standby: "a"},
		&EndFailover{Header: at(6), ID: "fo-1", Outcome: FailoverDone, RPO: rpo},
		&HoldRegion{Header: at(6), Region: "a", Failover: "fo-1"},
		&MarkRegionReturned{Header: at(7), Region: "a"},
		&ReleaseRegion{Header: at(7), Region: "a", Discard: "1-1-101-103"},
		&ScheduleDrill{Header: at(8), Plan: "monthly", Cron: "0 3 1 * *"},
		&RecordDrill{Header: at(9), ID: "drill-1", Plan: "monthly", Outcome: DrillPassed, StartedAt: t0.Add(8 * time.Second), EndedAt: t0.Add(9 * time.Second), Report: "reports/drill-1"},
		&FenceRegion{Header: at(10), Region: "c", Reason: "maintenance"},
		&UnfenceRegion{Header: at(11), Region: "c"},
		&BeginFailover{Header: at(12), ID: "fo-2", Kind: KindPlanned, From: "b", To: "c", Reason: "maintenance of b"},
		&StepFailover{Header: at(13), ID: "fo-2", Step: "switch buckets", Result: "failed", Detail: "lag too high"},
		&EndFailover{Header: at(14), ID: "fo-2", Outcome: FailoverRolledBack, Reason: "lag"},
		&ScheduleDrill{Header: at(15), Plan: "weekly", Cron: "*/15 2-4 * 1,6 0-5/2", Disabled: true},
		&UnscheduleDrill{Header: at(16), Plan: "weekly"},
		&StartDrill{Header: at(17), ID: "drill-2", Plan: "monthly", StartedAt: t0.Add(17 * time.Second), Runner: "b"},
		&RecordDrill{Header: at(18), ID: "drill-2", Plan: "monthly", Outcome: DrillFailed, StartedAt: t0.Add(17 * time.Second), EndedAt: t0.Add(18 * time.Second), Summary: "rto_max exceeded"},
		&BeginFailover{Header: at(19), ID: "fo-3", Kind: KindPlanned, From: "b", To: "a", Reason: "failback of a", Undoes: "fo-1"},
		&EndFailover{Header: at(20), ID: "fo-3", Outcome: FailoverDone},
		&RecordRebuild{Header: at(21), Rebuild: RebuildRecord{ID: "rb-1", Region: "a", Donor: "b", Reason: "disk replaced", State: RebuildRunning, StartedAt: t0.Add(21 * time.Second)}},
		&RecordRebuild{Header: at(22), Rebuild: RebuildRecord{ID: "rb-1", Region: "a", Donor: "b", Reason: "disk replaced", State: RebuildDone,
			StartedAt: t0.Add(21 * time.Second), EndedAt: t0.Add(22 * time.Second), Tables: 9, Rows: 1200, Kept: []string{"lending.users as _region.kept_1_0"}}},
	}
}

func TestFSMHistory(t *testing.T) {
	f := newFSM()
	applyAll(t, f, history()...)
	s := f.state()

	a := s.Regions["a"]
	if !a.Fenced || a.FailedAt != t0.Add(2*time.Second) || a.ReturnedAt != t0.Add(7*time.Second) || a.CooldownUntil != t0.Add(5*time.Minute) {
		t.Errorf("region a = %+v", a)
	}
	if a.HeldBy != "" || a.Discarded != "1-1-101-103" {
		t.Errorf("region a's stream: held by %q, discarded %q", a.HeldBy, a.Discarded)
	}
	if c := s.Regions["c"]; c.Fenced {
		t.Errorf("region c still fenced: %+v", c)
	}
	if p := s.Cells["cell-1"]; p.Home != "b" || p.Standby != "a" {
		t.Errorf("cell-1 = %+v", p)
	}
	fo := s.Failovers["fo-1"]
	if fo.State != FailoverDone || fo.RPO.Pending || fo.RPO.LostCount != 3 || len(fo.Steps) != 1 || fo.EndedAt != t0.Add(6*time.Second) {
		t.Errorf("fo-1 = %+v", fo)
	}
	if fo := s.Failovers["fo-2"]; fo.State != FailoverRolledBack || fo.RPO.Pending || fo.Steps[0].Result != "failed" {
		t.Errorf("fo-2 = %+v", fo)
	}
	if fo := s.Failovers["fo-3"]; fo.State != FailoverDone || fo.Undoes != "fo-1" {
		t.Errorf("fo-3 = %+v", fo)
	}
	if sc := s.Schedules["monthly"]; !sc.Enabled || sc.LastDrill != "drill-2" || sc.LastRun != t0.Add(17*time.Second) {
		t.Errorf("schedule = %+v", sc)
	}
	if d := s.Drills["drill-2"]; d.Outcome != DrillFailed || d.Runner != "b" || d.Summary != "rto_max exceeded" || d.EndedAt != t0.Add(18*time.Second) {
		t.Errorf("drill-2 = %+v", d)
	}
	if _, ok := s.Schedules["weekly"]; ok {
		t.Error("weekly is still scheduled")
	}
}

// TestFSMDeterministic replays the same log into two FSMs and compares the
// encoded states byte for byte.
func TestFSMDeterministic(t *testing.T) {
	f1, f2 := newFSM(), newFSM()
	applyAll(t, f1, history()...)
	applyAll(t, f2, history()...)
	b1, _ := json.Marshal(f1.state())
	b2, _ := json.Marshal(f2.state())
	if !bytes.Equal(b1, b2) {
		t.Fatalf("replays differ:\n%s\n%s", b1, b2)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := newFSM()
	applyAll(t, f, history()...)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if want, got := f.state(), g.state(); !reflect.DeepEqual(want, got) {
		t.Fatalf("restored state differs:\nwant %+v\n got %+v", want, got)
	}
	// The restored FSM goes on like the original.
	next := &StepFailover{Header: at(20), ID: "fo-1", Step: "x", Result: "ok"}
	if err := applyOne(g, 100, next); !errors.Is(err, ErrRejected) {
		t.Errorf("step of an ended failover after restore: %v, want ErrRejected", err)
	}
}

type memSink struct{ bytes.Buffer }

func (*memSink) ID() string    { return "mem" }
func (*memSink) Cancel() error { return nil }
func (*memSink) Close() error  { return nil }

// TestBadCommands: every bad command is refused with an error naming what
// is wrong, and the state does not change.
func TestBadCommands(t *testing.T) {
	tests := []struct {
		name, cmd, want string
		sentinel        error
	}{
		{"not json", `{"op":`, "not a JSON object", ErrBadCommand},
		{"no op", `{"region":"a"}`, `"op" is missing`, ErrBadCommand},
		{"op not a string", `{"op":5}`, `"op" must be a string`, ErrBadCommand},
		{"unknown op", `{"op":"region.explode","region":"a"}`, `unknown op "region.explode"`, ErrBadCommand},
		{"unknown field", `{"op":"region.fence","region":"a","reason":"x","at":"2026-11-25T10:00:00Z","colour":"red"}`, `unknown field "colour"`, ErrBadCommand},
		{"wrong type", `{"op":"region.fence","region":7,"reason":"x","at":"2026-11-25T10:00:00Z"}`, `field "region"`, ErrBadCommand},
		{"missing time", `{"op":"region.fence","region":"a","reason":"x"}`, `field "at" is required`, ErrBadCommand},
		{"bad time", `{"op":"region.fence","region":"a","reason":"x","at":"yesterday"}`, `region.fence`, ErrBadCommand},
		{"bad name", `{"op":"region.fence","region":"A B","reason":"x","at":"2026-11-25T10:00:00Z"}`, `field "region": "A B" is not a name`, ErrBadCommand},
		{"missing reason", `{"op":"region.failed","region":"a","at":"2026-11-25T10:00:00Z"}`, `field "reason" is required`, ErrBadCommand},
		{"cooldown before at", `{"op":"region.failed","region":"a","reason":"x","at":"2026-11-25T10:00:00Z","cooldown_until":"2026-11-25T09:00:00Z"}`, `"cooldown_until"`, ErrBadCommand},
		{"same home and standby", `{"op":"cell.place","cell":"c1","home":"a","standby":"a","at":"2026-11-25T10:00:00Z"}`, `field "standby"`, ErrBadCommand},
		{"bad kind", `{"op":"failover.begin","id":"f","kind":"sideways","from":"a","to":"b","reason":"x","at":"2026-11-25T10:00:00Z"}`, `field "kind"`, ErrBadCommand},
		{"failover to itself", `{"op":"failover.begin","id":"f","kind":"planned","from":"a","to":"a","reason":"x","at":"2026-11-25T10:00:00Z"}`, `field "to"`, ErrBadCommand},
		{"bad rpo", `{"op":"failover.end","id":"fo-9","outcome":"done","at":"2026-11-25T10:00:00Z","rpo":{"pending":false,"lost_count":-1}}`, `rpo.lost_count`, ErrBadCommand},
		{"rpo needs gtid", `{"op":"failover.end","id":"fo-9","outcome":"done","at":"2026-11-25T10:00:00Z","rpo":{"lost_count":0}}`, `rpo.last_applied_gtid`, ErrBadCommand},
		{"forced failback", `{"op":"failover.begin","id":"f","kind":"forced","from":"b","to":"a","undoes":"fo-1","reason":"x","at":"2026-11-25T10:00:00Z"}`, `field "undoes"`, ErrBadCommand},
		{"bad outcome", `{"op":"failover.end","id":"fo-9","outcome":"meh","at":"2026-11-25T10:00:00Z"}`, `field "outcome"`, ErrBadCommand},
		{"bad cron", `{"op":"drill.schedule","plan":"p","cron":"61 * * * *","at":"2026-11-25T10:00:00Z"}`, `minute field`, ErrBadCommand},
		{"short cron", `{"op":"drill.schedule","plan":"p","cron":"* * *","at":"2026-11-25T10:00:00Z"}`, `has 3 fields`, ErrBadCommand},
		{"drill ends before start", `{"op":"drill.record","id":"d","plan":"p","outcome":"passed","started_at":"2026-11-25T10:00:00Z","ended_at":"2026-11-25T09:00:00Z","at":"2026-11-25T10:00:00Z"}`, `"ended_at"`, ErrBadCommand},
		// Well formed, but refused by the state.
		{"unfence unknown", `{"op":"region.unfence","region":"zz","at":"2026-11-25T10:00:00Z"}`, `region "zz" is not known`, ErrRejected},
		{"unfence in failover", `{"op":"region.unfence","region":"b","at":"2026-11-25T10:00:00Z"}`, `is in failover "fo-open"`, ErrRejected},
		{"second failover", `{"op":"failover.begin","id":"fo-x","kind":"planned","from":"b","to":"c","reason":"x","at":"2026-11-25T10:00:00Z"}`, `already in failover "fo-open"`, ErrRejected},
		{"undoes another path", `{"op":"failover.begin","id":"fo-y","kind":"planned","from":"c","to":"d","undoes":"fo-1","reason":"x","at":"2026-11-25T10:00:00Z"}`, `"fo-1" is not a failover from d to c`, ErrRejected},
		{"duplicate id", `{"op":"failover.begin","id":"fo-1","kind":"planned","from":"c","to":"d","reason":"x","at":"2026-11-25T10:00:00Z"}`, `"fo-1" already exists`, ErrRejected},
		{"step of unknown", `{"op":"failover.step","id":"nope","step":"s","result":"ok","at":"2026-11-25T10:00:00Z"}`, `"nope" is not known`, ErrRejected},
		{"end of ended", `{"op":"failover.end","id":"fo-1","outcome":"done","at":"2026-11-25T10:00:00Z"}`, `has ended`, ErrRejected},
		{"duplicate drill", `{"op":"drill.record","id":"drill-1","plan":"p","outcome":"passed","started_at":"2026-11-25T10:00:00Z","ended_at":"2026-11-25T10:00:00Z","at":"2026-11-25T10:00:00Z"}`, `already recorded`, ErrRejected},
		{"drill started twice", `{"op":"drill.start","id":"drill-2","plan":"monthly","runner":"a","started_at":"2026-11-25T10:00:00Z","at":"2026-11-25T10:00:00Z"}`, `already recorded`, ErrRejected},
		{"drill record names another plan", `{"op":"drill.record","id":"drill-run","plan":"other","outcome":"passed","started_at":"2026-11-25T10:00:00Z","ended_at":"2026-11-25T10:00:00Z","at":"2026-11-25T10:00:00Z"}`, `runs plan "monthly"`, ErrRejected},
		{"drill record outcome running", `{"op":"drill.record","id":"d","plan":"p","outcome":"running","started_at":"2026-11-25T10:00:00Z","ended_at":"2026-11-25T10:00:00Z","at":"2026-11-25T10:00:00Z"}`, `"outcome"`, ErrBadCommand},
		{"hold unfenced", `{"op":"region.hold","region":"c","failover":"fo-x","at":"2026-11-25T10:00:00Z"}`, `not fenced`, ErrRejected},
		{"release not held", `{"op":"region.release","region":"a","at":"2026-11-25T10:00:00Z"}`, `not held`, ErrRejected},
		{"unschedule unknown", `{"op":"drill.unschedule","plan":"nope","at":"2026-11-25T10:00:00Z"}`, `not scheduled`, ErrRejected},
	}
	f := newFSM()
	applyAll(t, f, history()...)
	applyAll(t, f,
		&StartDrill{Header: at(29), ID: "drill-run", Plan: "monthly", StartedAt: t0.Add(29 * time.Second), Runner: "a"},
		&FenceRegion{Header: at(30), Region: "b", Reason: "drill"},
		&BeginFailover{Header: at(31), ID: "fo-open", Kind: KindPlanned, From: "b", To: "a", Reason: "drill"})
	before, _ := json.Marshal(f.state())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := applyRaw(f, 1000, []byte(tt.cmd))
			if err == nil || !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %v containing %q", err, tt.sentinel, tt.want)
			}
			if after, _ := json.Marshal(f.state()); !bytes.Equal(before, after) {
				t.Fatalf("state changed by a refused command")
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, c := range history() {
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Op(), err)
		}
		d, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", c.Op(), b, err)
		}
		if !reflect.DeepEqual(c, d) {
			t.Errorf("%s: round trip\nwant %+v\n got %+v", c.Op(), c, d)
		}
		if !bytes.Contains(b, []byte(`"op":"`+c.Op()+`"`)) {
			t.Errorf("%s: wire form %s lacks its op", c.Op(), b)
		}
	}
}

func TestCompleteRPO(t *testing.T) {
	f := newFSM()
	pending := &RPO{Pending: true, LastAppliedGTID: "1-1-94"}
	applyAll(t, f,
		&BeginFailover{Header: at(0), ID: "fo-1", Kind: KindForced, From: "a", To: "b", Reason: "a lost"},
		&EndFailover{Header: at(1), ID: "fo-1", Outcome: FailoverDone, RPO: pending})
	exact := RPO{LastAppliedGTID: "1-1-94", LostGTIDs: "1-1-103-105", LostCount: 3, Changes: []string{"1-1-103 insert lending.ledger_entries id=7"}}
	if err := applyOne(f, 3, &CompleteRPO{Header: at(2), ID: "fo-1", RPO: exact}); err != nil {
		t.Fatal(err)
	}
	if got := f.st.Failovers["fo-1"].RPO; !reflect.DeepEqual(got, exact) {
		t.Fatalf("RPO after completion: %+v", got)
	}
	for _, c := range []Command{
		&CompleteRPO{Header: at(3), ID: "fo-1", RPO: exact},
		&CompleteRPO{Header: at(3), ID: "fo-9", RPO: exact},
		&CompleteRPO{Header: at(3), ID: "fo-1", RPO: RPO{Pending: true, LastAppliedGTID: "x"}},
	} {
		if err := applyOne(f, 4, c); err == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
}

func TestRecordRebuild(t *testing.T) {
	f := newFSM()
	start := RebuildRecord{ID: "rb-1", Region: "b", Donor: "a", Reason: "disk replaced", State: RebuildRunning, StartedAt: t0}
	applyAll(t, f, &RecordRebuild{Header: at(0), Rebuild: start})
	end := start
	end.State, end.EndedAt, end.Tables, end.Rows = RebuildDone, t0.Add(time.Minute), 9, 4000
	if err := applyOne(f, 2, &RecordRebuild{Header: Header{At: t0.Add(time.Minute), Actor: "someone else"}, Rebuild: end}); err != nil {
		t.Fatal(err)
	}
	if got := f.st.Rebuilds["rb-1"]; got.State != RebuildDone || got.Actor != "test" || got.Rows != 4000 || !got.StartedAt.Equal(t0) {
		t.Fatalf("recorded %+v: want done, started by test", got)
	}
	bad := func(mod func(*RebuildRecord)) *RecordRebuild {
		r := start
		r.ID = "rb-2"
		mod(&r)
		return &RecordRebuild{Header: at(3), Rebuild: r}
	}
	for _, c := range []*RecordRebuild{
		{Header: at(3), Rebuild: end},                                         // ended already
		{Header: at(3), Rebuild: start},                                       // running already... and ended
		bad(func(r *RebuildRecord) { r.State = RebuildDone; r.EndedAt = t0 }), // never started
		bad(func(r *RebuildRecord) { r.Donor = "b" }),                         // its own donor
		bad(func(r *RebuildRecord) { r.Reason = "" }),                         // no reason
		bad(func(r *RebuildRecord) { r.State = "paused" }),                    // no such state
		bad(func(r *RebuildRecord) { r.EndedAt = t0 }),                        // running, yet ended
	} {
		if err := applyOne(f, 4, c); err == nil {
			t.Errorf("%+v was accepted", c.Rebuild)
		}
	}
}
