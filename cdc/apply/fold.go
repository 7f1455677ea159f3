package apply

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/config"
)

// Folding: a run of transactions that commit together (batch.go) is
// applied as if it were one, when nothing in it needs row-by-row care:
// one probe query for every key the run changes, then for each table one
// delete of the keys the run leaves deleted and one upsert of the rows it
// leaves written (each key's last image). A run of N sysbench-like
// transactions then costs the target a few statements instead of 4N.
//
// It is the same as applying the transactions one after the other
// because every table in the run has a primary key and no secondary
// unique key (the final row of each key is all that remains, whatever
// the order; the applier's session does not check foreign keys), and
// because the run is folded only when no key conflicts: a key's first
// change in the run is checked against the target, and each later change
// of it starts from the one before (the source's own order), except a
// versioned key inserted again after the run deleted it, which is checked
// against other regions' tombstones. Anything else (a conflict, such a
// key, a table without a primary key or with a unique key) applies one
// transaction at a time, as before. An ownership violation's log holds
// the target's row before the run rather than before its transaction.

// errUnfoldable means the run must apply one transaction at a time. It is
// returned before anything is written.
var errUnfoldable = errors.New("the run applies one transaction at a time")

// applyFolded applies the run's transactions (in order) in tx as one, or
// returns errUnfoldable having written nothing.
func (w *worker) applyFolded(ctx context.Context, tx *sql.Tx, run []*event.Message) error {
	ts := make([]*event.Txn, len(run))
	for i, m := range run {
		t, err := w.a.forTarget(ctx, m.Txn)
		if err != nil {
			return err
		}
		for k := range t.Tables {
			if err := w.a.guarded(ctx, &t.Tables[k]); err != nil {
				return err
			}
		}
		to, err := w.a.referencing(ctx, t)
		if err != nil {
			return err
		}
		if ok, err := w.a.netable(ctx, t, to); err != nil || !ok {
			return cmp.Or(err, errUnfoldable)
		}
		ts[i] = t
	}
	checked := func(tb *event.Table) bool { return w.a.policyOf(tb).name != config.ConflictOverwrite }
	// Each transaction's own probes: a later change of a key starts from
	// the run's change before it, so only the key's first change needs the
	// target; but a versioned key inserted again after the run deleted it
	// would be checked against other regions' tombstones: not folded.
	seen := map[string]bool{}
	var tombs []tombstone.Tombstone
	var claims []claim.Claim
	for i, t := range ts {
		for _, pr := range probes(t, checked) {
			// The claims its home-cell-wins changes leave, with its stamp.
			claims = append(claims, w.a.claims(run[i], t, pr.rows)...)
			k := keyString(pr.tb, pr.key())
			pol := w.a.policyOf(pr.tb)
			if seen[k] && pr.op == event.Insert && pol.versioned() {
				return errUnfoldable
			}
			seen[k] = true
			// The tombstones the transaction's deletes leave, as applying
			// it alone would record them (Write keeps the last of a key).
			if col := pr.tb.ColIndex(pol.version); pr.op == event.Delete && pol.versioned() && col >= 0 {
				tombs = append(tombs, tombstone.Tombstone{Table: pr.tb, Key: pr.before, Origin: w.a.cfg.Source, Version: pr.before[col], GTID: t.GTID})
			}
		}
	}
	all := fold(ts)
	ps := probes(all, checked)
	nt := netOf(all)
	if !w.locking {
		nt.markFresh(ps)
	}
	if len(ps) > 0 {
		states, err := readStates(ctx, tx, ps)
		if err != nil {
			return err
		}
		deleted, err := w.tombstones(ctx, ps, states)
		if err != nil {
			return err
		}
		for i, pr := range ps {
			if conflicted(pr.op, states[i].exists, states[i].sameBefore, states[i].sameAfter) || (deleted != nil && tombConflict(pr.op, states[i].exists, len(deleted[i]) > 0)) {
				return errUnfoldable
			}
		}
	}
	for i, m := range run {
		if err := w.checkOwnership(ctx, tx, m, ts[i]); err != nil {
			return err
		}
	}
	w.tombs = append(w.tombs, tombs...)
	w.claims = append(w.claims, claims...)
	for _, s := range nt.plan(w.a.dialect) {
		if err := w.exec(ctx, tx, s); err != nil {
			return err
		}
	}
	return w.recordOrigins(ctx, tx, ps, nil)
}

// netable reports whether t's rows may be applied as what they leave
// (netTxn.plan): every table has a primary key and no secondary unique
// key, and no row sets off an action of a foreign key of to (those apply
// where the row does: cascade.go).
func (a *Applier) netable(ctx context.Context, t *event.Txn, to [][]catalog.FK) (bool, error) {
	for i := range t.Tables {
		tb := &t.Tables[i]
		if len(tb.PK) == 0 {
			return false, nil
		}
		uks, err := a.catalog.UniqueKeys(ctx, tb.Schema, tb.Name)
		if err != nil || len(uks) > 0 {
			return false, err
		}
	}
	for _, r := range t.Rows {
		if to != nil && fires(&t.Tables[r.T], r, to[r.T]) {
			return false, nil
		}
	}
	return true, nil
}

// fold concatenates transactions' rows, in order, into one transaction
// whose tables are shared where they are the same.
func fold(ts []*event.Txn) *event.Txn {
	out := &event.Txn{}
	for _, t := range ts {
		remap := make([]int, len(t.Tables))
		for i := range t.Tables {
			remap[i] = -1
			for j := range out.Tables {
				if sameTable(&out.Tables[j], &t.Tables[i]) {
					remap[i] = j
					break
				}
			}
			if remap[i] < 0 {
				remap[i] = len(out.Tables)
				out.Tables = append(out.Tables, t.Tables[i])
			}
		}
		for _, r := range t.Rows {
			r.T = remap[r.T]
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// sameTable reports whether a and b describe the same table the same way
// (a schema change between them makes two).
func sameTable(a, b *event.Table) bool {
	return a.Name == b.Name && a.Schema == b.Schema && slices.Equal(a.Cols, b.Cols) && slices.Equal(a.Types, b.Types) && slices.Equal(a.PK, b.PK)
}

// netTxn is what a transaction's rows leave of each key (netOf), from
// which it applies as one statement per table and kind (plan).
type netTxn struct {
	t *event.Txn
	// order lists t's tables in the order they first appear; rows holds
	// each table's keys in order of first change, index each key's place
	// in rows (by keyString).
	order []int
	rows  [][]netRow
	index []map[string]int
}

// netRow is what a transaction leaves of one key: deleted, or the last
// image written; fresh: the key is a fresh probe's (markFresh).
type netRow struct {
	del, fresh bool
	img        []event.Value
}

// netOf computes what t's rows leave of each key.
func netOf(t *event.Txn) *netTxn {
	n := &netTxn{t: t, index: make([]map[string]int, len(t.Tables)), rows: make([][]netRow, len(t.Tables))}
	set := func(ti int, del bool, img []event.Value) {
		if n.index[ti] == nil {
			n.index[ti] = map[string]int{}
			n.order = append(n.order, ti)
		}
		k := keyString(&t.Tables[ti], img)
		if i, ok := n.index[ti][k]; ok {
			n.rows[ti][i] = netRow{del: del, img: img}
			return
		}
		n.index[ti][k] = len(n.rows[ti])
		n.rows[ti] = append(n.rows[ti], netRow{del: del, img: img})
	}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		switch {
		case r.Op == event.Delete:
			set(r.T, true, r.Before)
		case r.Op == event.Update && tb.KeyChanged(r.Before, r.After):
			set(r.T, true, r.Before)
			set(r.T, false, r.After)
		default:
			set(r.T, false, r.After)
		}
	}
	return n
}

// markFresh marks the probes of ps (the transaction's) that are fresh,
// and their keys' rows: the key's first change is an insert, and the
// transaction leaves the key written.
func (n *netTxn) markFresh(ps []*probe) {
	tables := map[*event.Table]int{} // probes point into t.Tables
	for i := range n.t.Tables {
		tables[&n.t.Tables[i]] = i
	}
	for _, p := range ps {
		ti, ok := tables[p.tb]
		if p.op != event.Insert || !ok {
			continue
		}
		if i, ok := n.index[ti][keyString(p.tb, p.after)]; ok && !n.rows[ti][i].del {
			p.fresh, n.rows[ti][i].fresh = true, true
		}
	}
}

// plan turns the transaction (every table with a primary key, none with
// a secondary unique key) into what it leaves: for each table, the keys
// it leaves deleted (one DELETE per maxBatchRows keys) and the rows it
// leaves written, each key's last image (one upsert per maxBatchRows
// rows; for fresh keys, a plain INSERT, which fails if the key is
// there), in the order tables first appear.
func (n *netTxn) plan(d dialect) []stmt {
	var out []stmt
	batches := func(imgs [][]event.Value, st func([][]event.Value) stmt) {
		for len(imgs) > 0 {
			k := min(len(imgs), maxBatchRows)
			out = append(out, st(imgs[:k]))
			imgs = imgs[k:]
		}
	}
	for _, ti := range n.order {
		tb := &n.t.Tables[ti]
		var dels, written, inserted [][]event.Value
		for _, r := range n.rows[ti] {
			switch {
			case r.del:
				dels = append(dels, r.img)
			case r.fresh:
				inserted = append(inserted, r.img)
			default:
				written = append(written, r.img)
			}
		}
		batches(dels, func(imgs [][]event.Value) stmt { return deleteRows(tb, imgs) })
		batches(written, func(imgs [][]event.Value) stmt { return d.upsert(tb, imgs) })
		batches(inserted, func(imgs [][]event.Value) stmt { return d.insert(tb, imgs) })
	}
	return out
}

// deleteRows deletes the rows with imgs' primary keys: `pk IN (...)`, or
// an OR of the key's columns for a composite key.
func deleteRows(tb *event.Table, imgs [][]event.Value) stmt {
	if len(imgs) == 1 {
		return deleteRow(tb, imgs[0])
	}
	var b strings.Builder
	args := make([]any, 0, len(imgs)*len(tb.PK))
	b.WriteString("DELETE FROM " + tableName(tb) + " WHERE ")
	if len(tb.PK) == 1 {
		b.WriteString(quote(tb.Cols[tb.PK[0]]) + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(imgs)), ",") + ")")
		for _, img := range imgs {
			args = append(args, img[tb.PK[0]].V)
		}
		return stmt{query: b.String(), args: args, table: tb}
	}
	for i, img := range imgs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		where, a := pkWhere(tb, img)
		b.WriteString("(" + where + ")")
		args = append(args, a...)
	}
	return stmt{query: b.String(), args: args, table: tb}
}
