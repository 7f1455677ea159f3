package apply

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
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
	v := event.NewValues
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

// TestLatestDelete: the tombstone that decides is the highest version;
// on equal versions the one that deleted the very row the change writes
// (that delete saw the change), then the owner's, then the first.
func TestLatestDelete(t *testing.T) {
	row := func(ver, val int) []event.Value { return event.NewValues(ver, val) }
	del := func(origin string, ver, val int) tombstone.Deleted {
		return tombstone.Deleted{Origin: origin, Version: event.NewValue(int64(ver)), Row: tombstone.Digest(row(ver, val))}
	}
	for _, c := range []struct {
		name   string
		ds     []tombstone.Deleted
		in     []event.Value
		owner  string
		origin string
		same   bool
	}{
		{"none", nil, row(1, 1), "a", "", false},
		{"highest", []tombstone.Deleted{del("b", 3, 1), del("c", 5, 2)}, row(4, 9), "b", "c", false},
		{"the same row first", []tombstone.Deleted{del("a", 5, 1), del("c", 5, 9)}, row(5, 9), "a", "c", true},
		{"then the owner", []tombstone.Deleted{del("b", 5, 1), del("c", 5, 2)}, row(5, 9), "c", "c", false},
		{"then the first", []tombstone.Deleted{del("b", 5, 1), del("c", 5, 2)}, row(5, 9), "a", "b", false},
	} {
		d, same, ok := latestDelete(c.ds, c.in, c.owner)
		if d.Origin != c.origin || same != c.same || ok != (c.origin != "") {
			t.Errorf("%s: latestDelete = %s (same %v, ok %v), want %s (same %v)", c.name, d.Origin, same, ok, c.origin, c.same)
		}
	}
}

// TestResolveConverges is a model of the conflict rules: regions write
// the same few keys (inserts, updates raising the version, deletes, a key
// inserted again after its delete, the same key inserted by two regions),
// each on its own rows, while the others' changes arrive in a random
// order (each source's in its own order), so a write may be concurrent
// with another region's or made after it arrived. Every region decides
// each arriving change with conflicted and resolve from its own rows,
// tombstones, origins and claims only, as the applier does. Every region
// must end with the same rows, for thousands of random histories, with
// two and three regions. With moving ownership, buckets move between
// regions while changes are in flight (a switch or a failover), and any
// region writes any key, owner or not, stamped with the epoch it wrote
// at: home-cell-wins must decide by the stamps (the placement when a
// change arrives differs between regions).
func TestResolveConverges(t *testing.T) {
	for _, c := range []struct {
		policy  string
		regions []string
		// causal: a region may write after others' changes arrived;
		// else every write is concurrent with every other region's.
		causal bool
		// moving: ownership moves during the history and writes are
		// stamped; else it stays and no change's stamp is known.
		moving bool
	}{
		{config.ConflictLastWriterWins, []string{"a", "b"}, true, false},
		{config.ConflictLastWriterWins, []string{"a", "b", "c"}, true, false},
		{config.ConflictHomeCellWins, []string{"a", "b"}, true, false},
		{config.ConflictHomeCellWins, []string{"a", "b", "c"}, true, false},
		{config.ConflictHomeCellWins, []string{"a", "b"}, true, true},
		{config.ConflictHomeCellWins, []string{"a", "b", "c"}, true, true},
	} {
		name := fmt.Sprintf("%s/%d", c.policy, len(c.regions))
		if c.moving {
			name += "/moving"
		}
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5000; seed++ {
				if msg := simulate(seed, policy{name: c.policy}, c.regions, c.causal, c.moving); msg != "" {
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
	// stamp is what the routing history says of the change.
	stamp verdict
}

// mclaim is a region's change of a key as a claim records it: the
// version it left and the verdict on its stamp.
type mclaim struct {
	ver   int
	stamp verdict
}

// mregion is one region's state in the model: its rows, its tombstones
// (per key and deleting region, the version of the last row that region's
// delete removed here), and the region whose change each row (or its
// absence) holds, as _region.tombstones and _region.origins record them.
type mregion struct {
	rows   map[int]mrow
	tombs  map[int]map[string]tombstone.Deleted
	origin map[int]string
	claims map[int]map[string]mclaim
}

// held returns the verdict on region here's claim of key k if it is of
// version ver (verdicts).
func (s *mregion) held(k int, here string, ver int) verdict {
	if c, ok := s.claims[k][here]; ok && c.ver == ver {
		return c.stamp
	}
	return verdict{}
}

// image is r as a row image.
func (r mrow) image() []event.Value {
	return []event.Value{event.NewValue(int64(r.ver)), event.NewValue(int64(r.val))}
}

// tomb returns the tombstone of key k that decides a change from src
// writing in (nil: a delete), as the applier picks it (latestDelete) of
// the tombstones of regions other than src (src's own deletes came
// before its later changes, in its stream).
func (s *mregion) tomb(k int, src string, in *mrow, owner string) (origin string, ver int, same bool) {
	var ds []tombstone.Deleted
	for _, o := range slices.Sorted(maps.Keys(s.tombs[k])) {
		if o != src {
			ds = append(ds, s.tombs[k][o])
		}
	}
	var img []event.Value
	if in != nil {
		img = in.image()
	}
	d, same, ok := latestDelete(ds, img, owner)
	if !ok {
		return "", 0, false
	}
	return d.Origin, int(d.Version.V.(int64)), same
}

// simulate runs one random history and returns what went wrong, if
// anything.
func simulate(seed uint64, p policy, regions []string, causal, moving bool) string {
	rng := rand.New(rand.NewPCG(seed, 11))
	const keys = 4
	placement := map[int]string{}
	for k := range keys {
		placement[k] = regions[k%len(regions)]
	}
	epoch := uint64(1)
	owner := func(k int) string { return placement[k] }
	st := map[string]*mregion{}
	for _, r := range regions {
		st[r] = &mregion{rows: map[int]mrow{}, tombs: map[int]map[string]tombstone.Deleted{}, origin: map[int]string{}, claims: map[int]map[string]mclaim{}}
		for k := 0; k < keys-1; k++ {
			st[r].rows[k] = mrow{1, 0}
		}
	}
	streams := map[string][]mchange{}
	next := map[string]map[string]int{} // dst -> src -> next change
	for _, r := range regions {
		next[r] = map[string]int{}
	}
	var history strings.Builder
	val := 0
	write := func(r string) {
		s := st[r]
		k := rng.IntN(keys)
		cur, ok := s.rows[k]
		ch := mchange{src: r, key: k, stamp: verdict{known: moving, owned: placement[k] == r, epoch: epoch}}
		switch {
		case !ok:
			// A key inserted again gets a version above the one deleted
			// here, as a timestamp or a raised counter has.
			val++
			_, deleted, _ := s.tomb(k, "", nil, "")
			ch.op, ch.after = event.Insert, &mrow{deleted + 1 + rng.IntN(2), val}
		case rng.IntN(3) == 0:
			ch.op, ch.before = event.Delete, &cur
		default:
			// An update changes the row (MySQL logs no change that
			// changes nothing) and raises the version.
			val++
			ch.op, ch.before, ch.after = event.Update, &cur, &mrow{cur.ver + 1 + rng.IntN(2), val}
		}
		s.apply(ch, r)
		streams[r] = append(streams[r], ch)
		fmt.Fprintf(&history, "\n  %s %s", r, describe(ch))
	}
	// deliver applies the next change from src in dst and reports a halt.
	deliver := func(dst, src string) string {
		ch := streams[src][next[dst][src]]
		next[dst][src]++
		s := st[dst]
		local, exists := s.rows[ch.key]
		same := func(img *mrow) bool { return exists && img != nil && *img == local }
		f := facts{exists: exists, in: ch.stamp}
		if p.name == config.ConflictHomeCellWins {
			f.owner, f.local = owner(ch.key), s.origin[ch.key]
		}
		var deleted int
		if !exists && ch.op != event.Delete {
			f.tomb, deleted, f.tombSame = s.tomb(ch.key, src, ch.after, f.owner)
		}
		decision := decideApply
		if conflicted(ch.op, exists, same(ch.before), same(ch.after)) || tombConflict(ch.op, exists, f.tomb != "") {
			in := ch.after
			if ch.op == event.Delete {
				in = ch.before
			}
			if exists {
				f.version = cmpInt(in.ver, local.ver)
				if ch.after != nil {
					f.tie = strings.Compare(ch.after.stored(), local.stored())
				}
				f.held = s.held(ch.key, cmp.Or(f.local, dst), local.ver)
			}
			if f.tomb != "" {
				f.tombVersion = cmpInt(in.ver, deleted)
				f.held = s.held(ch.key, f.tomb, deleted)
			}
			var reason string
			decision, reason = resolve(p, ch.op, src, dst, f)
			fmt.Fprintf(&history, "\n    %s: %s from %s: %s, %s", dst, describe(ch), src, decision, reason)
			if decision == decideStop {
				return fmt.Sprintf("%s stopped on %s's change of key %d: %s%s", dst, src, ch.key, reason, history.String())
			}
		} else {
			fmt.Fprintf(&history, "\n    %s: %s from %s", dst, describe(ch), src)
		}
		if decision == decideApply {
			s.apply(ch, src)
		} else if ch.op == event.Delete && !exists {
			s.tombstone(ch.key, *ch.before, src)
			s.claim(ch, src)
		}
		return ""
	}
	pending := func() [][2]string {
		var out [][2]string
		for _, dst := range regions {
			for _, src := range regions {
				if src != dst && next[dst][src] < len(streams[src]) {
					out = append(out, [2]string{dst, src})
				}
			}
		}
		return out
	}
	for n := 6 + rng.IntN(30); n > 0; n-- {
		if moving && rng.IntN(5) == 0 {
			// A switch or failover moves a key's bucket at a new epoch.
			k := rng.IntN(keys)
			epoch++
			placement[k] = regions[rng.IntN(len(regions))]
			fmt.Fprintf(&history, "\n  epoch %d: key %d to %s", epoch, k, placement[k])
			continue
		}
		ps := pending()
		if len(ps) == 0 || !causal || rng.IntN(2) == 0 {
			write(regions[rng.IntN(len(regions))])
			continue
		}
		pick := ps[rng.IntN(len(ps))]
		if msg := deliver(pick[0], pick[1]); msg != "" {
			return msg
		}
	}
	for ps := pending(); len(ps) > 0; ps = pending() {
		pick := ps[rng.IntN(len(ps))]
		if msg := deliver(pick[0], pick[1]); msg != "" {
			return msg
		}
	}
	for _, r := range regions[1:] {
		if !reflect.DeepEqual(st[r].rows, st[regions[0]].rows) {
			return fmt.Sprintf("diverged: %s holds %v, %s holds %v%s", regions[0], st[regions[0]].rows, r, st[r].rows, history.String())
		}
	}
	return ""
}

// apply carries out ch, a change from src, in s: a delete leaves a
// tombstone with the deleted row's version.
func (s *mregion) apply(ch mchange, src string) {
	s.origin[ch.key] = src
	s.claim(ch, src)
	if ch.op == event.Delete {
		delete(s.rows, ch.key)
		s.tombstone(ch.key, *ch.before, src)
		return
	}
	s.rows[ch.key] = *ch.after
}

// claim records src's change ch of its key, as a claim does.
func (s *mregion) claim(ch mchange, src string) {
	ver := 0
	if ch.after != nil {
		ver = ch.after.ver
	} else {
		ver = ch.before.ver
	}
	if s.claims[ch.key] == nil {
		s.claims[ch.key] = map[string]mclaim{}
	}
	s.claims[ch.key][src] = mclaim{ver, ch.stamp}
}

func (s *mregion) tombstone(k int, deleted mrow, src string) {
	if s.tombs[k] == nil {
		s.tombs[k] = map[string]tombstone.Deleted{}
	}
	s.tombs[k][src] = tombstone.Deleted{Origin: src, Version: event.NewValue(int64(deleted.ver)), Row: tombstone.Digest(deleted.image())}
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

func describe(c mchange) string {
	switch c.op {
	case event.Insert:
		return fmt.Sprintf("insert %d=%v", c.key, *c.after)
	case event.Update:
		return fmt.Sprintf("update %d %v->%v", c.key, *c.before, *c.after)
	}
	return fmt.Sprintf("delete %d (%v)", c.key, *c.before)
}

// TestHome: two home-cell-wins changes made on the same version are
// decided by the verdicts on their stamps when both are known (the
// owner's change wins; between two owners, the later epoch's), by the
// owner now when one is not, and not at all (last-writer-wins follows)
// when neither change, or both at one epoch, was the owner's.
func TestHome(t *testing.T) {
	owned := func(e uint64) verdict { return verdict{known: true, owned: true, epoch: e} }
	not := func(e uint64) verdict { return verdict{known: true, epoch: e} }
	for _, c := range []struct {
		name      string
		in, held  verdict
		owner     string
		want      string // "" undecided
		reasonHas string
	}{
		{"the source owned it", owned(3), not(3), "b", decideApply, "a owned it at epoch 3, b did not own it at epoch 3"},
		{"the held change's region owned it", not(4), owned(3), "a", decideKeep, "b owned it at epoch 3, a did not own it at epoch 4"},
		{"both owned it: the later epoch", owned(5), owned(3), "b", decideApply, "a owned it at epoch 5"},
		{"both owned it: the held one later", owned(2), owned(6), "a", decideKeep, "b owned it at epoch 6"},
		{"neither owned it", not(2), not(2), "a", "", "a did not own it at epoch 2, b did not own it"},
		{"an unknown stamp: the owner now, the source", owned(2), verdict{}, "a", decideApply, "home region is a, the source"},
		{"an unknown stamp: the owner now, held", verdict{}, owned(2), "b", decideKeep, "home region is b, whose change"},
		{"an unknown stamp, a third owner", verdict{}, verdict{}, "c", "", "neither a nor b"},
	} {
		d, why, ok := home("a", "b", facts{in: c.in, held: c.held, owner: c.owner})
		if ok != (c.want != "") || d != c.want || !strings.Contains(why, c.reasonHas) {
			t.Errorf("%s: home = %q, %q, %v; want %q with %q", c.name, d, why, ok, c.want, c.reasonHas)
		}
	}
}
