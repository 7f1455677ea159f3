package seed

import (
	"fmt"
	"sort"
	"strings"
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
// copy's GTID set contains: the caller reads the topic); it is called
// once per distinct GTID set.
func (p *Plan) Start(source string, part int32, donorStart func(Positions) (Start, error)) (Start, error) {
	var low *Start
	seen := map[string]Start{}
	for _, name := range p.names() {
		pos := p.tables[name]
		var s Start
		if pos.Donor == source {
			var ok bool
			if s, ok = seen[pos.GTID]; !ok {
				var err error
				if s, err = donorStart(pos); err != nil {
					return Start{}, fmt.Errorf("seed: where %s's copy starts in %s/%d: %w", name, source, part, err)
				}
				seen[pos.GTID] = s
			}
		} else if cp, ok := pos.Inbound[source][part]; ok {
			s = Start{From: cp}
		} else {
			s = Start{Oldest: true}
		}
		if low == nil || earlier(s, *low) {
			low = &s
		}
	}
	if low == nil {
		return Start{Oldest: true}, nil
	}
	return *low, nil
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
