package seed

import (
	"errors"
	"strings"
	"testing"
)

// Two tables copied from a in two snapshots: orders at a's 0-1-100 with
// b's partition 0 applied up to offset 40, ledger later, at 0-1-130 and
// offset 55 (b's partition 1 not applied yet when orders was copied).
func testPlan(t *testing.T) *Plan {
	t.Helper()
	p, err := NewPlan([]Record{
		{DB: "app", Table: "orders", State: StateDone, Positions: Positions{Donor: "a", Flavor: "mariadb", GTID: "0-1-100",
			Inbound: map[string]map[int32]Checkpoint{"b": {0: {Offset: 40, Seq: 7}}}}},
		{DB: "app", Table: "ledger", State: StateDone, Positions: Positions{Donor: "a", Flavor: "mariadb", GTID: "0-1-130",
			Inbound: map[string]map[int32]Checkpoint{"b": {0: {Offset: 55, Seq: 9}, 1: {Offset: 3, Seq: 8}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHolds(t *testing.T) {
	p := testPlan(t)
	for _, c := range []struct {
		name, table, source string
		part                int32
		offset              int64
		pos                 string
		want                bool
	}{
		{"donor's txn inside the snapshot", "app.orders", "a", 0, 5, "0-1-100", true},
		{"donor's txn after the snapshot", "app.orders", "a", 0, 6, "0-1-101", false},
		{"the same txn, a table copied later", "app.ledger", "a", 0, 6, "0-1-101", true},
		{"donor's txn after both", "app.ledger", "a", 0, 9, "0-1-131", false},
		{"other source, applied by the donor", "app.orders", "b", 0, 40, "1-2-9", true},
		{"other source, not yet applied by the donor", "app.orders", "b", 0, 41, "1-2-10", false},
		{"other source, later copy", "app.ledger", "b", 0, 41, "1-2-10", true},
		{"partition the donor had applied nothing of", "app.orders", "b", 1, 0, "1-2-1", false},
		{"partition applied in the later copy", "app.ledger", "b", 1, 3, "1-2-1", true},
		{"a third source the donor knew nothing of", "app.ledger", "c", 0, 0, "2-3-1", false},
		{"a table not copied", "app.users", "a", 0, 1, "0-1-1", false},
	} {
		got, err := p.Holds(c.table, c.source, c.part, c.offset, c.pos)
		if err != nil || got != c.want {
			t.Errorf("%s: Holds(%s, %s, %d, %d, %s) = %v, %v; want %v", c.name, c.table, c.source, c.part, c.offset, c.pos, got, err, c.want)
		}
	}
	if _, err := p.Holds("app.orders", "a", 0, 1, ""); err == nil {
		t.Error("a donor message without a position: no error")
	}
	var none *Plan
	if got, err := none.Holds("app.orders", "a", 0, 1, "0-1-1"); got || err != nil {
		t.Errorf("nil plan holds %v, %v", got, err)
	}
}

func TestStart(t *testing.T) {
	p := testPlan(t)
	calls := map[string]int{}
	donor := func(p Positions) (Start, error) {
		calls[p.GTID]++
		return map[string]Start{"0-1-100": {From: Checkpoint{Offset: 10}}, "0-1-130": {From: Checkpoint{Offset: 14}}}[p.GTID], nil
	}
	for _, c := range []struct {
		source string
		part   int32
		want   Start
	}{
		{"a", 0, Start{From: Checkpoint{Offset: 10}}},
		{"b", 0, Start{From: Checkpoint{Offset: 40, Seq: 7}}},
		{"b", 1, Start{Oldest: true}}, // orders' copy holds nothing of it
		{"c", 0, Start{Oldest: true}},
	} {
		got, err := p.Start(c.source, c.part, donor)
		if err != nil || got != c.want {
			t.Errorf("Start(%s, %d) = %+v, %v; want %+v", c.source, c.part, got, err, c.want)
		}
	}
	if calls["0-1-100"] != 1 || calls["0-1-130"] != 0 {
		t.Errorf("donor's topic searched %v times per set, want once for the lowest (0-1-100) only", calls)
	}
	boom := errors.New("broker down")
	if _, err := p.Start("a", 0, func(Positions) (Start, error) { return Start{}, boom }); !errors.Is(err, boom) {
		t.Errorf("donor start error lost: %v", err)
	}
}

func TestNewPlan(t *testing.T) {
	if p, err := NewPlan(nil); p != nil || err != nil {
		t.Errorf("no records: %v, %v; want nil, nil", p, err)
	}
	_, err := NewPlan([]Record{{DB: "app", Table: "orders", State: StateDone, Positions: Positions{Donor: "a", Flavor: "mariadb", GTID: "0-1-1"}}, {DB: "app", Table: "ledger", State: StateCopying}})
	if err == nil || !strings.Contains(err.Error(), "app.ledger") || strings.Contains(err.Error(), "app.orders") {
		t.Errorf("an unfinished copy: %v; want an error naming app.ledger only", err)
	}
	_, err = NewPlan([]Record{{DB: "app", Table: "orders", State: StateDone, Positions: Positions{Donor: "a", Flavor: "mariadb", GTID: "x-y"}}})
	if err == nil || !strings.Contains(err.Error(), "app.orders") {
		t.Errorf("a damaged GTID set: %v; want an error naming app.orders", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Donor, c.Target, c.Tables, c.Batch = "a", "a", []string{"app", "_region.claims", "app.orders"}, 0
	err := c.Validate()
	for _, want := range []string{`both "a"`, "MySQL are required", `"app" is not DB.TABLE`, `"_region.claims" is the platform's own`, "Batch"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to say %q", err, want)
		}
	}
}
