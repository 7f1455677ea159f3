package apply

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
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
	// fresh: an insert of a key the transaction leaves written, which the
	// applier does not read first (no locking read, so no gap lock on a
	// key the target lacks, which would block the application's inserts
	// nearby). It is taken as absent, and written with a plain INSERT
	// that fails if the key is there after all (netTxn.markFresh, errNotFresh).
	fresh bool
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

// keyString identifies a row of a table within a transaction: its table,
// and each key value's Go type and text (so that 1 and "1" differ). It is
// built for every key a run changes, in one buffer.
func keyString(tb *event.Table, img []event.Value) string {
	b := make([]byte, 0, len(tb.Schema)+len(tb.Name)+1+24*len(tb.PK))
	b = append(append(append(b, tb.Schema...), 0), tb.Name...)
	for _, p := range tb.PK {
		b = append(b, 0)
		switch x := img[p].V.(type) {
		case int64:
			b = strconv.AppendInt(append(b, "i:"...), x, 10)
		case uint64:
			b = strconv.AppendUint(append(b, "u:"...), x, 10)
		case string: // with its length: a zero byte in it is no separator
			b = append(append(strconv.AppendInt(append(b, 's'), int64(len(x)), 10), ':'), x...)
		case []byte:
			b = append(append(strconv.AppendInt(append(b, 'b'), int64(len(x)), 10), ':'), x...)
		default:
			b = append(append(append(b, fmt.Sprintf("%T", x)...), ':'), img[p].Text()...)
		}
	}
	return string(b)
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
// (exists false) is to be decided as a conflict: a region other than the
// source deleted the key here (deleted), possibly concurrently. (The
// source's own deletes do not count: they came before its insert in its
// stream.)
func tombConflict(op event.Op, exists, deleted bool) bool {
	return op == event.Insert && !exists && deleted
}

// latestDelete picks, of the tombstones of a key the target lacks, the
// one that decides a change writing the row in: the highest version; on
// equal versions one that deleted the very row in (same: that delete was
// made after the change), then owner's, then the first. ok is false
// without tombstones.
func latestDelete(ds []tombstone.Deleted, in []event.Value, owner string) (d tombstone.Deleted, same, ok bool) {
	row := tombstone.Digest(in)
	for _, c := range ds {
		s := bytes.Equal(c.Row, row)
		order := 1
		if ok {
			order = cmp.Or(tombstone.Compare(c.Version, d.Version), cmpBool(s, same), cmpBool(c.Origin == owner, d.Origin == owner))
		}
		if order > 0 {
			d, same, ok = c, s, true
		}
	}
	return d, same, ok
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// facts are what the target holds for a conflicting change.
type facts struct {
	// exists: the target has a row with the key.
	exists bool
	// version compares the incoming version with the target's: -1
	// lower, 0 equal, 1 higher.
	version int
	// tie compares the incoming row with the target's, both as the target
	// stores them (the last tie-break on equal versions): -1, 0 or 1.
	tie int
	// owner is the region that owns the row's bucket (home-cell-wins);
	// local is the region whose change the target holds for the key (its
	// row, or its absence), from _region.origins; empty: the target's own
	// (with two regions always so).
	owner, local string
	// in and held are what the routing history says of the incoming
	// change and of the change the target holds (its row, or its
	// tombstone's delete), when they tie on a home-cell-wins table
	// (home.go).
	in, held verdict
	// tomb is the region whose delete the target's tombstone of a missing
	// row records ("" none: latestDelete), tombVersion compares the
	// incoming version with the deleted one (-1, 0 or 1), and tombSame
	// says the delete removed the very row the change writes (it was made
	// after the change, which it saw).
	tomb        string
	tombVersion int
	tombSame    bool
	// missing names what the policy needs and the table or config lacks
	// (a version or shard column): the partition halts.
	missing string
}

// resolve decides a conflict of a change from src applied in dst. Both
// policies that decide (rather than halt) order changes by the table's
// version column, which every write raises, so a change made after
// another one arrived wins in every region whatever order the two arrive
// in. A delete's version is the deleted row's, so an update made
// concurrently (raising it) beats it; a key the target lacks is compared
// with the highest tombstone another region left here (f.tomb), and
// without one the change applies. Equal versions are concurrent changes:
//
//   - last-writer-wins: a delete wins, then the greater row, compared as
//     stored, so the outcome never depends on which region applies.
//   - home-cell-wins: the change made by the bucket's owner at the epoch
//     it wrote wins (the source's, or the one the target holds: its row,
//     from _region.origins, or its tombstone; home.go); when neither
//     was, as last-writer-wins.
//   - reject: the partition halts.
func resolve(p policy, op event.Op, src, dst string, f facts) (string, string) {
	if f.missing != "" {
		return decideStop, f.missing
	}
	switch p.name {
	case config.ConflictReject:
		return decideStop, "policy reject"
	case config.ConflictLastWriterWins, config.ConflictHomeCellWins:
	default:
		return decideStop, fmt.Sprintf("unknown policy %q", p.name)
	}
	// here is the region whose change the target holds for the key, and
	// order compares the incoming version with it.
	here, order := cmp.Or(f.local, dst), f.version
	switch {
	case !f.exists && op == event.Delete:
		return decideKeep, "the row is gone here too"
	case !f.exists && f.tomb == "":
		return decideApply, "the row is not here and no delete of it is known here"
	case !f.exists:
		here, order = f.tomb, f.tombVersion
	}
	switch {
	case order > 0 && !f.exists:
		return decideApply, fmt.Sprintf("the incoming version is higher than the one %s deleted here", here)
	case order > 0:
		return decideApply, "the incoming version is higher"
	case order < 0 && !f.exists:
		return decideKeep, fmt.Sprintf("%s deleted the row here at a higher version than the incoming one", here)
	case order < 0 && op == event.Delete:
		return decideKeep, "the local version is higher than the deleted one"
	case order < 0:
		return decideKeep, "the local version is higher"
	}
	if !f.exists && f.tombSame {
		return decideKeep, fmt.Sprintf("%s deleted this very row here, after it was written", here)
	}
	why := "equal versions"
	if p.name == config.ConflictHomeCellWins {
		d, w, ok := home(src, here, f)
		if ok {
			return d, w
		}
		why = w
	}
	switch {
	case !f.exists:
		return decideKeep, fmt.Sprintf("%s; %s deleted the row here, and a delete wins", why, here)
	case op == event.Delete:
		return decideApply, fmt.Sprintf("%s; %s deleted the row, and a delete wins", why, src)
	}
	return byRow(f.tie, why)
}

// byRow breaks a tie by comparing the two rows as stored.
func byRow(tie int, why string) (string, string) {
	if tie > 0 {
		return decideApply, why + "; the incoming row sorts after the local one"
	}
	return decideKeep, why + "; the local row sorts after the incoming one"
}
