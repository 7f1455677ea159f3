package apply

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/config"
)

// The decisions of conflict handling are pure functions of what the
// target holds, so every region decides the same way from the same two
// rows whichever region applies: probes lists what a transaction expects
// to find, conflicted says whether the target holds something else, and
// resolve picks the row that stands. conflict.go reads the facts from
// the target and carries the decisions out.

// probe is one primary key a transaction changes in a checked table, at
// its first change in the transaction: the target must hold what the
// source held before the transaction (later changes of the key in the
// same transaction build on the first and follow its decision).
type probe struct {
	tb *event.Table
	// op is the first change's kind; an update that moves a row to a new
	// primary key is two probes, a delete of the old key and an insert of
	// the new one.
	op event.Op
	// before and after are the first change's images (nil where op has
	// none); the key is read from after, or before for a delete.
	before, after []event.Value
	// rows are the transaction's rows that change the key.
	rows []int
}

// key is the image holding the probe's primary key.
func (p *probe) key() []event.Value {
	if p.op == event.Delete {
		return p.before
	}
	return p.after
}

// row is the probe as a row change, for the conflict log.
func (p *probe) row() event.Row { return event.Row{Op: p.op, Before: p.before, After: p.after} }

// probes lists the keys t changes in tables checked reports true for, in
// order of first change.
func probes(t *event.Txn, checked func(*event.Table) bool) []*probe {
	var out []*probe
	seen := map[string]*probe{}
	add := func(i int, tb *event.Table, op event.Op, before, after []event.Value) {
		img := after
		if op == event.Delete {
			img = before
		}
		k := keyString(tb, img)
		if p, ok := seen[k]; ok {
			if p.rows[len(p.rows)-1] != i {
				p.rows = append(p.rows, i)
			}
			return
		}
		p := &probe{tb: tb, op: op, before: before, after: after, rows: []int{i}}
		seen[k] = p
		out = append(out, p)
	}
	for i, r := range t.Rows {
		tb := &t.Tables[r.T]
		if len(tb.PK) == 0 || !checked(tb) {
			continue
		}
		if r.Op == event.Update && tb.KeyChanged(r.Before, r.After) {
			add(i, tb, event.Delete, r.Before, nil)
			add(i, tb, event.Insert, nil, r.After)
			continue
		}
		add(i, tb, r.Op, r.Before, r.After)
	}
	return out
}

// keyString identifies a row of a table within a transaction.
func keyString(tb *event.Table, img []event.Value) string {
	var b strings.Builder
	b.WriteString(tb.Schema + "\x00" + tb.Name)
	for _, p := range tb.PK {
		b.WriteString("\x00" + fmt.Sprintf("%T", img[p].V) + ":" + img[p].Text())
	}
	return b.String()
}

// conflicted reports whether a change finds the target row in a state its
// source did not see: an insert of a key the target holds differently, an
// update of a row the target lacks or holds as neither image, a delete of
// a row the target holds differently. A target already holding the
// change's result is no conflict (both regions made the same change).
func conflicted(op event.Op, exists, sameBefore, sameAfter bool) bool {
	switch op {
	case event.Insert:
		return exists && !sameAfter
	case event.Update:
		return !exists || (!sameBefore && !sameAfter)
	case event.Delete:
		return exists && !sameBefore
	}
	return true
}

// tombConflict reports whether an insert of a key the target lacks
// (exists false) is to be decided as a conflict: region tomb, other than
// the source, deleted the key here, possibly concurrently. (The source's
// own deletes do not count: they came before its insert in its stream.)
func tombConflict(op event.Op, exists bool, tomb string) bool {
	return op == event.Insert && !exists && tomb != ""
}

// facts are what the target holds for a conflicting change.
type facts struct {
	// exists: the target has a row with the key.
	exists bool
	// version compares the incoming version with the target's
	// (last-writer-wins): -1 lower, 0 equal, 1 higher.
	version int
	// tie compares the incoming row with the target's, both as the target
	// stores them (last-writer-wins on equal versions): -1, 0 or 1.
	tie int
	// owner is the region that owns the row's bucket (home-cell-wins);
	// local is the region whose change the target holds for the key (its
	// row, or its absence), from _region.origins; empty: the target's own
	// (with two regions always so).
	owner, local string
	// tomb is the region whose delete the target's tombstone of a missing
	// row records (last-writer-wins; "" none), and tombVersion compares
	// the incoming version with the deleted one: -1, 0 or 1.
	tomb        string
	tombVersion int
	// missing names what the policy needs and the table or config lacks
	// (a version or shard column): the partition halts.
	missing string
}

// resolve decides a conflict of a change from src applied in dst.
//
//   - reject: the partition halts.
//   - last-writer-wins: the higher version wins. A delete's version is
//     the deleted row's, so an update made concurrently (raising it) beats
//     it; a key the target lacks is compared with the highest tombstone
//     another region left here (f.tomb), and without one the change
//     applies. On equal versions a delete wins, then the greater row,
//     compared as stored, so the outcome never depends on which region
//     applies.
//   - home-cell-wins: the change of the region owning the row's bucket
//     wins; between two other regions, as last-writer-wins on equal
//     versions (a delete first, then the greater row).
func resolve(p policy, op event.Op, src, dst string, f facts) (string, string) {
	if f.missing != "" {
		return decideStop, f.missing
	}
	switch p.name {
	case config.ConflictReject:
		return decideStop, "policy reject"
	case config.ConflictLastWriterWins:
		switch {
		case !f.exists && op == event.Delete:
			return decideKeep, "the row is gone here too"
		case !f.exists && f.tomb == "":
			return decideApply, "the row is not here and no delete of it is known here"
		case !f.exists && f.tombVersion > 0:
			return decideApply, fmt.Sprintf("the incoming version is higher than the one %s deleted here", f.tomb)
		case !f.exists:
			return decideKeep, fmt.Sprintf("%s deleted the row here at a version not lower than the incoming one; a delete wins on equal versions", f.tomb)
		case op == event.Delete && f.version < 0:
			return decideKeep, "the local version is higher than the deleted one"
		case op == event.Delete:
			return decideApply, fmt.Sprintf("%s deleted the row at a version not lower than the local one; a delete wins on equal versions", src)
		case f.version > 0:
			return decideApply, "the incoming version is higher"
		case f.version < 0:
			return decideKeep, "the local version is higher"
		}
		return byRow(f.tie, "equal versions")
	case config.ConflictHomeCellWins:
		local := cmp.Or(f.local, dst)
		switch {
		case f.owner == src:
			return decideApply, fmt.Sprintf("the row's home region is %s, the source", f.owner)
		case f.owner == local:
			return decideKeep, fmt.Sprintf("the row's home region is %s, whose change the row here holds", f.owner)
		case !f.exists:
			return decideKeep, fmt.Sprintf("neither %s nor %s is the row's home region %s, and the row is gone here; a delete wins against a concurrent change", src, local, f.owner)
		case op == event.Delete:
			return decideApply, fmt.Sprintf("neither %s nor %s is the row's home region %s; a delete wins against a concurrent change", src, local, f.owner)
		}
		return byRow(f.tie, fmt.Sprintf("neither %s nor %s is the row's home region %s", src, local, f.owner))
	}
	return decideStop, fmt.Sprintf("unknown policy %q", p.name)
}

// byRow breaks a tie by comparing the two rows as stored.
func byRow(tie int, why string) (string, string) {
	if tie > 0 {
		return decideApply, why + "; the incoming row sorts after the local one"
	}
	return decideKeep, why + "; the local row sorts after the incoming one"
}
