package seed

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/binlog"
)

// Plan is what a link into a seeded target needs of the copies: where
// each partition starts and which changes the copies already hold.
type Plan struct {
	tables map[string]Positions // "db.table" -> its copy's positions
	// sets are the copies' GTID sets, parsed once: Message runs for every
	// message of every link into the target for as long as it runs.
	sets map[string]mysql.GTIDSet
}

// NewPlan returns the Plan of the target's records, nil when nothing was
// seeded. A copy still in progress (interrupted) is an error: the table is
// partial and no link may apply into it until the copy is run again.
func NewPlan(recs []Record) (*Plan, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	p := &Plan{tables: map[string]Positions{}, sets: map[string]mysql.GTIDSet{}}
	var copying []string
	for _, r := range recs {
		if r.State != StateDone {
			copying = append(copying, r.Name())
			continue
		}
		set, err := mysql.ParseGTIDSet(r.Positions.Flavor, r.Positions.GTID)
		if err != nil {
			return nil, fmt.Errorf("seed: %s's copy of %s has a bad GTID set %q: %w", Table, r.Name(), r.Positions.GTID, err)
		}
		p.tables[r.Name()], p.sets[r.Name()] = r.Positions, set
	}
	if len(copying) > 0 {
		sort.Strings(copying)
		return nil, fmt.Errorf("seed: the copy of %s into this region is not finished (%s says %q): run the seed again to finish it before the links start", strings.Join(copying, ", "), Table, StateCopying)
	}
	return p, nil
}

// Held says, for one message, whether a table's copy already holds its
// change (Plan.Message).
type Held func(table string) bool

// Message returns what the copies hold of one message: from source, in
// partition part at offset, with pos the source's GTID set after it
// (event.Message.Pos). A table that was not copied holds nothing.
//
// From a copy's donor itself, a message is held when its transaction is
// in the snapshot's GTID set (its pos is contained in it: capture's
// positions grow in binlog order). From any other source it is held when
// the donor had applied that partition up to at least that offset: the
// donor's links apply each partition in order and checkpoint in the same
// transaction as the rows. A source the donor had applied nothing of, or
// a partition it had not, holds nothing.
func (p *Plan) Message(source string, part int32, offset int64, pos string) (Held, error) {
	if p == nil {
		return func(string) bool { return false }, nil
	}
	var msg mysql.GTIDSet
	for name, t := range p.tables {
		if t.Donor != source {
			continue
		}
		if pos == "" {
			return nil, fmt.Errorf("seed: a message of %s at %d/%d has no position to compare with %s's copy at %q", source, part, offset, name, t.GTID)
		}
		var err error
		if msg, err = mysql.ParseGTIDSet(t.Flavor, pos); err != nil {
			return nil, fmt.Errorf("seed: a message of %s at %d/%d: position %q: %w", source, part, offset, pos, err)
		}
		break
	}
	return func(table string) bool {
		t, ok := p.tables[table]
		switch {
		case !ok:
			return false
		case t.Donor == source:
			return p.sets[table].Contain(msg)
		}
		cp, ok := t.Inbound[source][part]
		return ok && offset <= cp.Offset
	}, nil
}

// Holds is Message for one table.
func (p *Plan) Holds(table, source string, part int32, offset int64, pos string) (bool, error) {
	held, err := p.Message(source, part, offset, pos)
	if err != nil {
		return false, err
	}
	return held(table), nil
}

// Start is where a link from source starts in one partition.
type Start struct {
	// From is the checkpoint to resume after; Oldest means from the
	// partition's oldest message (some copy holds nothing of it).
	From   Checkpoint
	Oldest bool
}

// Start returns where a link from source starts in partition part so
// that every copy is brought forward from its own positions: the lowest of
// the copies' starts. donorStart gives the start in a donor's own topic
// for a copy's positions (after the last message whose position the
// copy's GTID set contains: the caller reads the topic). It is called only
// for the copies from source with the lowest GTID sets (a donor's later
// snapshots contain its earlier ones, so normally once).
func (p *Plan) Start(source string, part int32, donorStart func(Positions) (Start, error)) (Start, error) {
	var low *Start
	take := func(s Start) {
		if low == nil || earlier(s, *low) {
			low = &s
		}
	}
	var own []Positions
	for _, name := range p.names() {
		pos := p.tables[name]
		switch cp, ok := pos.Inbound[source][part]; {
		case pos.Donor == source:
			own = append(own, pos)
		case ok:
			take(Start{From: cp})
		default:
			take(Start{Oldest: true})
		}
	}
	lowest, err := lowestSets(own)
	if err != nil {
		return Start{}, err
	}
	for _, pos := range lowest {
		s, err := donorStart(pos)
		if err != nil {
			return Start{}, fmt.Errorf("seed: where the copy at %s starts in %s/%d: %w", pos.GTID, source, part, err)
		}
		take(s)
	}
	if low == nil {
		return Start{Oldest: true}, nil
	}
	return *low, nil
}

// lowestSets returns the positions whose GTID sets contain no other's
// (one per distinct set).
func lowestSets(ps []Positions) ([]Positions, error) {
	var out []Positions
	for i, p := range ps {
		lowest := true
		for j, q := range ps {
			if i == j || p.GTID == q.GTID {
				continue
			}
			in, err := binlog.Covers(p.Flavor, p.GTID, q.GTID)
			if err != nil {
				return nil, fmt.Errorf("seed: compare the copies' positions: %w", err)
			}
			if in {
				lowest = false // p holds q: q starts earlier
				break
			}
		}
		dup := false
		for _, o := range out {
			dup = dup || o.GTID == p.GTID
		}
		if lowest && !dup {
			out = append(out, p)
		}
	}
	return out, nil
}

func earlier(a, b Start) bool {
	switch {
	case a.Oldest:
		return !b.Oldest
	case b.Oldest:
		return false
	}
	return a.From.Offset < b.From.Offset
}

func (p *Plan) names() []string {
	out := make([]string, 0, len(p.tables))
	for n := range p.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
