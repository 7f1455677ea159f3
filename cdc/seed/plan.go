package seed

import (
	"fmt"
	"sort"
	"strings"

	"github.com/regionplatform/region/cdc/binlog"
)

// Plan is what a link into a seeded target needs of the copies: where
// each partition starts and which changes the copies already hold.
type Plan struct {
	tables map[string]Positions // "db.table" -> its copy's positions
}

// NewPlan returns the Plan of the target's records, nil when nothing was
// seeded. A copy still in progress (interrupted) is an error: the table is
// partial and no link may apply into it until the copy is run again.
func NewPlan(recs []Record) (*Plan, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	p := &Plan{tables: map[string]Positions{}}
	var copying []string
	for _, r := range recs {
		if r.State != StateDone {
			copying = append(copying, r.Name())
			continue
		}
		p.tables[r.Name()] = r.Positions
	}
	if len(copying) > 0 {
		sort.Strings(copying)
		return nil, fmt.Errorf("seed: the copy of %s into this region is not finished (%s says %q): run the seed again to finish it before the links start", strings.Join(copying, ", "), Table, StateCopying)
	}
	return p, nil
}

// Holds reports whether the copy of table ("db.table") already holds the
// change of a message from source at part/offset with position pos. A
// table that was not copied holds nothing.
func (p *Plan) Holds(table, source string, part int32, offset int64, pos string) (bool, error) {
	if p == nil {
		return false, nil
	}
	pos0, ok := p.tables[table]
	if !ok {
		return false, nil
	}
	return pos0.Covers(source, part, offset, pos)
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
