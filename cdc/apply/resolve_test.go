package apply

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/config"
)

func TestConflicted(t *testing.T) {
	for _, c := range []struct {
		op                            event.Op
		exists, sameBefore, sameAfter bool
		want                          bool
	}{
		{event.Insert, false, false, false, false}, // a new row
		{event.Insert, true, false, true, false},   // the same row inserted in both regions
		{event.Insert, true, false, false, true},   // the key holds another row
		{event.Update, true, true, false, false},   // the row the source changed
		{event.Update, true, false, true, false},   // the same change made in both
		{event.Update, true, false, false, true},   // changed here too
		{event.Update, false, false, false, true},  // deleted here
		{event.Delete, false, false, false, false}, // deleted in both
		{event.Delete, true, true, false, false},   // the row the source deleted
		{event.Delete, true, false, false, true},   // changed here
	} {
		if got := conflicted(c.op, c.exists, c.sameBefore, c.sameAfter); got != c.want {
			t.Errorf("conflicted(%s, exists %v, sameBefore %v, sameAfter %v) = %v, want %v", c.op, c.exists, c.sameBefore, c.sameAfter, got, c.want)
		}
	}
}

// TestProbes: one probe per key at its first change in the transaction,
// with every row of the key; a primary key change is a delete of the old
// key and an insert of the new; unchecked tables and tables without a
// primary key are not probed.
func TestProbes(t *testing.T) {
	v := func(xs ...any) []event.Value {
		out := make([]event.Value, len(xs))
		for i, x := range xs {
			out[i] = event.NewValue(x)
		}
		return out
	}
	txn := &event.Txn{
		Tables: []event.Table{
			{Schema: "lending", Name: "loans", Cols: []string{"id", "v"}, PK: []int{0}},
			{Schema: "lending", Name: "log", Cols: []string{"id", "v"}, PK: []int{0}},
			{Schema: "lending", Name: "nopk", Cols: []string{"id", "v"}},
		},
		Rows: []event.Row{
			{T: 0, Op: event.Insert, After: v(1, "a")},
			{T: 1, Op: event.Insert, After: v(1, "x")}, // unchecked table
			{T: 0, Op: event.Update, Before: v(1, "a"), After: v(1, "b")},
			{T: 0, Op: event.Update, Before: v(2, "a"), After: v(3, "a")}, // key 2 moves to 3
			{T: 2, Op: event.Insert, After: v(9, "n")},
			{T: 0, Op: event.Delete, Before: v(3, "a")},
			{T: 0, Op: event.Delete, Before: v(4, "d")},
		},
	}
	ps := probes(txn, func(tb *event.Table) bool { return tb.Name != "log" })
	type got struct {
		Op   event.Op
		Key  string
		Rows []int
	}
	var gs []got
	for _, p := range ps {
		gs = append(gs, got{p.op, p.key()[0].Text(), p.rows})
	}
	want := []got{{event.Insert, "1", []int{0, 2}}, {event.Delete, "2", []int{3}}, {event.Insert, "3", []int{3, 5}}, {event.Delete, "4", []int{6}}}
	if !reflect.DeepEqual(gs, want) {
		t.Errorf("probes = %+v\nwant     %+v", gs, want)
	}
	if ps[1].before == nil || ps[1].after != nil || ps[2].before != nil || ps[2].after == nil {
		t.Errorf("a key change's probes carry the wrong images: %+v %+v", ps[1], ps[2])
	}
}

// TestResolveConverges is a model of the conflict rules: regions change
// the same few keys concurrently (inserts, updates with equal or higher
// versions, deletes), every region receives every other region's changes
// in a random order (each source's in its own order), and decides each
// with conflicted and resolve from its own rows only, as the applier
// does. Every region must end with the same rows, for thousands of
// random histories, with two and three regions.
func TestResolveConverges(t *testing.T) {
	for _, c := range []struct {
		policy  string
		regions []string
	}{
		{config.ConflictLastWriterWins, []string{"a", "b"}},
		{config.ConflictLastWriterWins, []string{"a", "b", "c"}},
		{config.ConflictHomeCellWins, []string{"a", "b"}},
		{config.ConflictHomeCellWins, []string{"a", "b", "c"}},
	} {
		t.Run(fmt.Sprintf("%s/%d", c.policy, len(c.regions)), func(t *testing.T) {
			for seed := uint64(1); seed <= 3000; seed++ {
				if msg := simulate(seed, policy{name: c.policy}, c.regions); msg != "" {
					t.Fatalf("seed %d: %s", seed, msg)
				}
			}
		})
	}
}

// mrow is a row of the model: its version and value.
type mrow struct{ ver, val int }

func (r mrow) stored() string { return fmt.Sprintf("%03d/%d", r.ver, r.val) }

type mchange struct {
	src           string
	key           int
	op            event.Op
	before, after *mrow
}

// simulate runs one random history and returns what went wrong, if
// anything.
func simulate(seed uint64, p policy, regions []string) string {
	rng := rand.New(rand.NewPCG(seed, 11))
	const keys = 4
	owner := func(k int) string { return regions[k%len(regions)] }
	rows := map[string]map[int]mrow{}
	// origin is the region whose change each region's row (or its
	// absence) holds, as _region.origins records it.
	origin := map[string]map[int]string{}
	for _, r := range regions {
		rows[r] = map[int]mrow{}
		origin[r] = map[int]string{}
		for k := 0; k < keys-1; k++ {
			rows[r][k] = mrow{1, 0}
		}
	}
	// Each region's own changes, made while the others' had not arrived,
	// within what the rules are built for: a region does not write a key
	// again after deleting it, and no two regions insert the same key
	// (auto-increment ids with a region offset, UUIDs). Those two need
	// tombstones of local deletes, which the applier does not have (see
	// docs/cdc.md). Every write's value is new: two regions writing the
	// very same row (every column alike) is taken as one change.
	streams := map[string][]mchange{}
	inserted := map[int]string{}
	val := 0
	for _, r := range regions {
		deleted := map[int]bool{}
		for n := rng.IntN(5); n > 0; n-- {
			k := rng.IntN(keys)
			cur, ok := rows[r][k]
			if deleted[k] || (!ok && inserted[k] != "" && inserted[k] != r) {
				continue
			}
			ch := mchange{src: r, key: k}
			switch {
			case !ok:
				inserted[k] = r
				val++
				ch.op, ch.after = event.Insert, &mrow{1 + rng.IntN(2), val}
			case rng.IntN(3) == 0:
				ch.op, ch.before = event.Delete, &cur
				deleted[k] = true
			default:
				// An update changes the row (MySQL logs no change that
				// changes nothing) and, as last-writer-wins asks of the
				// application, raises the version.
				val++
				after := mrow{cur.ver + 1, val}
				ch.op, ch.before, ch.after = event.Update, &cur, &after
			}
			apply(rows[r], ch)
			origin[r][k] = r
			streams[r] = append(streams[r], ch)
		}
	}
	var history strings.Builder
	for _, r := range regions {
		fmt.Fprintf(&history, "\n  %s wrote %s", r, describe(streams[r]))
	}
	for _, dst := range regions {
		next := map[string]int{}
		for {
			var ready []string
			for _, src := range regions {
				if src != dst && next[src] < len(streams[src]) {
					ready = append(ready, src)
				}
			}
			if len(ready) == 0 {
				break
			}
			src := ready[rng.IntN(len(ready))]
			ch := streams[src][next[src]]
			next[src]++
			local, exists := rows[dst][ch.key]
			same := func(img *mrow) bool { return exists && img != nil && *img == local }
			if !conflicted(ch.op, exists, same(ch.before), same(ch.after)) {
				apply(rows[dst], ch)
				origin[dst][ch.key] = src
				continue
			}
			f := facts{exists: exists, owner: owner(ch.key), local: origin[dst][ch.key]}
			if exists && ch.after != nil {
				f.version = cmpInt(ch.after.ver, local.ver)
				f.tie = strings.Compare(ch.after.stored(), local.stored())
			}
			decision, reason := resolve(p, ch.op, src, dst, f)
			switch decision {
			case decideApply:
				apply(rows[dst], ch)
				origin[dst][ch.key] = src
			case decideStop:
				return fmt.Sprintf("%s stopped on %s's change of key %d: %s%s", dst, src, ch.key, reason, history.String())
			}
		}
	}
	for _, r := range regions[1:] {
		if !reflect.DeepEqual(rows[r], rows[regions[0]]) {
			return fmt.Sprintf("diverged: %s holds %v, %s holds %v%s", regions[0], rows[regions[0]], r, rows[r], history.String())
		}
	}
	return ""
}

func apply(rows map[int]mrow, ch mchange) {
	if ch.op == event.Delete {
		delete(rows, ch.key)
		return
	}
	rows[ch.key] = *ch.after
}

func cmpInt(a, b int) int {
	switch {
	case a > b:
		return 1
	case a < b:
		return -1
	}
	return 0
}

func describe(chs []mchange) string {
	var parts []string
	for _, c := range chs {
		switch c.op {
		case event.Insert:
			parts = append(parts, fmt.Sprintf("insert %d=%v", c.key, *c.after))
		case event.Update:
			parts = append(parts, fmt.Sprintf("update %d %v->%v", c.key, *c.before, *c.after))
		case event.Delete:
			parts = append(parts, fmt.Sprintf("delete %d (%v)", c.key, *c.before))
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
