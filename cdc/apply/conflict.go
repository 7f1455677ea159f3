package apply

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// A conflict is a row changed in two regions before either change reached
// the other: the target row is not what the source held before its
// change (conflicted). Tables whose policy is not overwrite are checked:
// before a transaction's rows apply, the applier reads, in one locking
// query (probe.go), whether the target holds what the source held for
// every key the transaction changes (probes). Each conflict is decided by
// the table's policy (resolve) and written to _region.conflicts with both
// images and the decision; a key whose local row stands keeps it, and
// every change of that key in the transaction is left out.
//
//   - last-writer-wins: the higher version column (a delete's is the
//     deleted row's; a missing key's, its tombstones': cdc/tombstone), and
//     on equal versions a delete, then the greater row as stored, so that
//     every region decides alike whichever applies.
//   - home-cell-wins: as last-writer-wins, but on equal versions the
//     change from the region that owns the row's bucket stands
//     (Config.Owners; which region's change the target holds:
//     _region.origins, origin.go).
//   - reject: the partition halts; an operator decides (regionctl verify,
//     regionctl link skip or retry).
//
// Overwrite tables are not checked: the incoming change simply applies.
// A table not listed in the config has replication.default_conflict
// (reject unless set).

// policy is a table's resolution settings.
type policy struct {
	name    string
	version string // column that orders changes (last-writer-wins, home-cell-wins)
	shard   string // column whose bucket owns the row (home-cell-wins)
	global  bool   // written only in its home region (config class global)
}

// versioned reports whether the policy orders changes by version, with
// tombstones for deletes.
func (p policy) versioned() bool {
	return p.name == config.ConflictLastWriterWins || p.name == config.ConflictHomeCellWins
}

// decision is what a conflict resolved to.
const (
	decideApply = "applied-incoming"
	decideKeep  = "kept-local"
	decideStop  = "rejected"
)

// ErrConflict is a conflict on a reject table: the partition halts.
var ErrConflict = errors.New("conflict on a table whose policy is reject")

// ErrNoPrimaryKey is a row of a table without a primary key whose
// conflict policy needs one: the partition halts.
var ErrNoPrimaryKey = errors.New("table without a primary key")

// ErrRowNotFound is an update of a table without a primary key that
// matches no row in the target: the partition halts.
var ErrRowNotFound = errors.New("row not found")

// ErrUnguardedTrigger is a row of a table with a trigger that would act
// a second time on it in the target: the partition halts.
var ErrUnguardedTrigger = errors.New("unguarded trigger")

// guarded refuses a table with a trigger whose body does not skip the
// applier's writes (catalog.ApplyVar): the source's trigger already had
// its effect, which arrives in the same transaction.
func (a *Applier) guarded(ctx context.Context, tb *event.Table) error {
	trs, err := a.catalog.Triggers(ctx, tb.Schema, tb.Name)
	if err != nil {
		return err
	}
	for _, tr := range trs {
		if !tr.Guarded {
			return fmt.Errorf("%w: trigger %s on %s.%s in %s would act again on the rows the applier writes (the source's trigger already wrote its effect, which arrives in the same transaction): guard its body with IF %s IS NULL THEN ... END IF; in every region, then regionctl link retry '%s->%s'",
				ErrUnguardedTrigger, tr.Name, tb.Schema, tb.Name, a.cfg.Target, catalog.ApplyVar, a.cfg.Source, a.cfg.Target)
		}
	}
	return nil
}

// ErrUniqueConflict is a row whose secondary unique value another row
// holds in the target: the partition halts (see unique.go).
var ErrUniqueConflict = errors.New("unique key conflict")

func (a *Applier) policyOf(tb *event.Table) policy {
	p, ok := a.policies[tb.Schema+"."+tb.Name]
	if !ok {
		return policy{name: cmp.Or(a.cfg.DefaultConflict, config.ConflictReject)}
	}
	return p
}

// applyRows applies one message's rows in tx: conflicts on checked
// tables are found and decided first, then the rows apply in batched
// upserts, except rows of tables with secondary unique keys, which apply
// one by one after a collision check (unique.go). A row that sets off
// foreign key actions ends a segment: the rows after it are checked
// against the target as the actions left it (segments).
func (w *worker) applyRows(ctx context.Context, tx *sql.Tx, m *event.Message) error {
	t, err := w.a.forTarget(ctx, m.Txn)
	if err != nil {
		return err
	}
	if err := w.checkOwnership(ctx, tx, m, t); err != nil {
		return err
	}
	for i := range t.Tables {
		tb := &t.Tables[i]
		if err := w.a.guarded(ctx, tb); err != nil {
			return err
		}
		if p := w.a.policyOf(tb); len(tb.PK) == 0 && p.name != config.ConflictOverwrite {
			return fmt.Errorf("%w: %s.%s has conflict policy %s, which needs a primary key to find the row; add a primary key, or give the table conflict: overwrite", ErrNoPrimaryKey, tb.Schema, tb.Name, p.name)
		}
	}
	to, err := w.a.referencing(ctx, t)
	if err != nil {
		return err
	}
	for _, seg := range segments(t, to) {
		if err := w.applySegment(ctx, tx, m, seg, to); err != nil {
			return err
		}
	}
	return nil
}

// applySegment checks and applies t, a segment of m's transaction
// (to: the foreign keys that reference its tables, by table index).
func (w *worker) applySegment(ctx context.Context, tx *sql.Tx, m *event.Message, t *event.Txn, to [][]catalog.FK) error {
	checked := func(tb *event.Table) bool { return w.a.policyOf(tb).name != config.ConflictOverwrite }
	ps := probes(t, checked)
	net, err := w.a.netable(ctx, t, to)
	if err != nil {
		return err
	}
	var nt *netTxn
	if net {
		nt = netOf(t)
		if !w.locking {
			nt.markFresh(ps)
		}
	}
	left, err := w.resolveConflicts(ctx, tx, m, t, ps)
	if err != nil {
		return err
	}
	// Nothing left out and nothing that needs a row-by-row order: the
	// transaction applies as what it leaves, one statement per table and
	// kind (fold.go), instead of one per run of rows.
	if net && len(left) == 0 {
		for _, s := range nt.plan(w.a.dialect) {
			if err := w.exec(ctx, tx, s); err != nil {
				return err
			}
		}
		return w.recordOrigins(ctx, tx, ps, nil)
	}
	part := *t
	run := func() error {
		stmts, err := plan(w.a.dialect, &part, to)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if err := w.exec(ctx, tx, s); err != nil {
				return err
			}
		}
		part.Rows = nil
		return nil
	}
	part.Rows = nil
	for i, r := range t.Rows {
		if left[i] {
			continue
		}
		tb := &t.Tables[r.T]
		var uks []catalog.Key
		if len(tb.PK) > 0 {
			if uks, err = w.a.catalog.UniqueKeys(ctx, tb.Schema, tb.Name); err != nil {
				return err
			}
		}
		if len(uks) == 0 {
			part.Rows = append(part.Rows, r)
			continue
		}
		if err := run(); err != nil {
			return err
		}
		if err := w.applyUnique(ctx, tx, m, tb, r, uks); err != nil {
			return err
		}
	}
	if err := run(); err != nil {
		return err
	}
	return w.recordOrigins(ctx, tx, ps, left)
}

// applyUnique applies one row of a table with secondary unique keys,
// refusing a row whose unique value another row holds in the target.
func (w *worker) applyUnique(ctx context.Context, tx *sql.Tx, m *event.Message, tb *event.Table, r event.Row, uks []catalog.Key) error {
	if r.Op != event.Delete {
		uk, other, otherPK, err := collision(ctx, tx, tb, uks, r.Before, r.After)
		if err != nil {
			return err
		}
		if uk != "" {
			reason := fmt.Sprintf("unique key %s: the incoming row (%s) has the value that row %s holds in %s; no row is rewritten", uk, tb.KeyText(r.After), otherPK, w.a.cfg.Target)
			rec := conflictRecord{source: w.a.cfg.Source, target: w.a.cfg.Target, gtid: m.Txn.GTID, tb: tb, r: r, policy: w.a.policyOf(tb).name,
				decision: decideStop, reason: reason, local: other}
			w.a.m.conflicts.Inc()
			if err := rec.write(ctx, w.a.cfg.DB); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s.%s: %s (both rows are in %s.conflicts): decide which row stands, repair it in every region (regionctl verify --repair), then regionctl link retry", ErrUniqueConflict, tb.Schema, tb.Name, reason, binlog.MetaSchema)
		}
	}
	return w.applyOne(ctx, tx, tb, r)
}

// resolveConflicts reads the target's state for every probe, decides each
// conflict by its table's policy and logs it; it returns the rows left
// out because the local row of their key stands. The deletes of
// versioned rows it lets stand are kept as tombstones (w.tombs, written
// at commit).
func (w *worker) resolveConflicts(ctx context.Context, tx *sql.Tx, m *event.Message, t *event.Txn, ps []*probe) (map[int]bool, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	states, err := readStates(ctx, tx, ps)
	if err != nil {
		return nil, err
	}
	tombs, err := w.tombstones(ctx, ps, states)
	if err != nil {
		return nil, err
	}
	src, dst := w.a.cfg.Source, w.a.cfg.Target
	var left map[int]bool
	for i, pr := range ps {
		st, pol := states[i], w.a.policyOf(pr.tb)
		var ds []tombstone.Deleted
		if tombs != nil {
			ds = tombs[i]
		}
		kept := false
		if conflicted(pr.op, st.exists, st.sameBefore, st.sameAfter) || tombConflict(pr.op, st.exists, len(ds) > 0) {
			if slices.ContainsFunc(ps, func(p *probe) bool { return p.fresh }) {
				// Decided only on what locking reads saw: all of it again,
				// every key read (worker.locking), before anything is
				// recorded or counted.
				return nil, errNotFresh
			}
			local, f, err := w.facts(ctx, tx, m, pr, pol, ds)
			if err != nil {
				return nil, err
			}
			decision, reason := resolve(pol, pr.op, src, dst, f)
			rec := conflictRecord{source: src, target: dst, gtid: m.Txn.GTID, tb: pr.tb, r: pr.row(), policy: pol.name,
				decision: decision, reason: reason, local: local}
			w.a.m.conflicts.Inc()
			if decision == decideStop {
				// The apply transaction rolls back: record the conflict on
				// its own, once (a folded run that stops here is applied
				// again one transaction at a time, and a retried link meets
				// the same conflict again).
				if err := rec.writeOnce(ctx, w.a.cfg.DB); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: %s.%s key %s: %s (both images are in %s.conflicts)", ErrConflict, pr.tb.Schema, pr.tb.Name, pr.tb.KeyText(pr.key()), reason, binlog.MetaSchema)
			}
			if err := rec.write(ctx, tx); err != nil {
				return nil, err
			}
			if kept = decision == decideKeep; kept {
				if left == nil {
					left = map[int]bool{}
				}
				for _, r := range pr.rows {
					left[r] = true
				}
			}
		}
		if col := pr.tb.ColIndex(pol.version); pr.op == event.Delete && pol.versioned() && col >= 0 && !(kept && st.exists) {
			w.tombs = append(w.tombs, tombstone.Tombstone{Table: pr.tb, Key: pr.before, Origin: src, Version: pr.before[col], GTID: m.Txn.GTID})
		}
		if !kept || (pr.op == event.Delete && !st.exists) {
			w.claims = append(w.claims, w.a.claims(m, t, pr.rows)...)
		}
	}
	return left, nil
}

// ErrLocalUnknown: the target's own deletes (or home-cell-wins changes)
// are not all recorded yet (its capture is not running or is behind), so
// a change of a versioned key the target lacks (or one that ties with
// the target's own change) cannot be decided; the apply is retried.
var ErrLocalUnknown = errors.New("the target region's own deletes and home-cell-wins changes are not known yet")

// tombstones reads, for every probe of a versioned key the target lacks
// (a delete aside), the tombstones left by regions other than the source,
// once the target's capture has recorded the target's own deletes; nil
// when no probe needs them. It reads outside tx, so it sees every
// tombstone committed so far and locks none.
func (w *worker) tombstones(ctx context.Context, ps []*probe, states []state) ([][]tombstone.Deleted, error) {
	var out [][]tombstone.Deleted
	var err error
	for i, pr := range ps {
		if states[i].exists || pr.op == event.Delete || !w.a.policyOf(pr.tb).versioned() {
			continue
		}
		if out == nil {
			if d := w.a.cfg.Local; d != nil {
				start := time.Now()
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := d.Recorded(rctx)
				cancel()
				w.a.m.deletesWaitSeconds.Observe(time.Since(start).Seconds())
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrLocalUnknown, err)
				}
			}
			out = make([][]tombstone.Deleted, len(ps))
		}
		if out[i], err = tombstone.Read(ctx, w.a.cfg.DB, pr.tb, pr.key(), w.a.cfg.Source); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// facts reads what resolve needs about a conflicting probe's key (of
// m): the local row (as JSON, locked), the bucket's owner and the region
// whose change the row holds (home-cell-wins), the version comparison
// with the row, or when the row is gone with the tombstone that decides
// (latestDelete, of tombs), the verdicts on two tying home-cell-wins
// changes, and the tie-break between the two rows.
func (w *worker) facts(ctx context.Context, tx *sql.Tx, m *event.Message, pr *probe, p policy, tombs []tombstone.Deleted) (string, facts, error) {
	tb, key := pr.tb, pr.key()
	local, exists, err := currentRow(ctx, tx, tb, key)
	if err != nil {
		return "", facts{}, err
	}
	f := facts{exists: exists}
	homeCell := p.name == config.ConflictHomeCellWins
	var b topo.Bucket
	if homeCell {
		col := tb.ColIndex(p.shard)
		if col < 0 || w.a.cfg.Owners == nil {
			f.missing = fmt.Sprintf("home-cell-wins needs shard column %q and the bucket owners", p.shard)
			return local, f, nil
		}
		b = topo.BucketOfString(key[col].Text(), w.a.cfg.Buckets)
		f.owner = w.a.cfg.Owners.Owner(b)
		if w.a.tracksOrigin(tb) {
			if f.local, err = originOf(ctx, tx, pr, local, exists); err != nil {
				return "", f, err
			}
		}
	}
	if !p.versioned() {
		return local, f, nil
	}
	col := tb.ColIndex(p.version)
	if col < 0 {
		f.missing = fmt.Sprintf("%s needs version column %q, which the table does not have", p.name, p.version)
		return local, f, nil
	}
	in := pr.after // the incoming version: a delete's is the deleted row's
	if pr.op == event.Delete {
		in = pr.before
	}
	if !exists {
		if d, same, ok := latestDelete(tombs, pr.after, f.owner); ok {
			f.tomb, f.tombVersion, f.tombSame = d.Origin, tombstone.Compare(in[col], d.Version), same
		}
		if homeCell && f.tomb != "" && f.tombVersion == 0 && !f.tombSame {
			f.in, f.held, err = w.verdicts(ctx, m, pr, b, f.tomb, in[col])
		}
		return local, f, err
	}
	var greater, equal sql.NullBool
	where, args := pkWhere(tb, key)
	q := fmt.Sprintf("SELECT ? > %s, ? = %s FROM %s WHERE %s", quote(p.version), quote(p.version), tableName(tb), where)
	if err := tx.QueryRowContext(ctx, q, append([]any{in[col].V, in[col].V}, args...)...).Scan(&greater, &equal); err != nil {
		return "", f, fmt.Errorf("compare versions of %s.%s: %w", tb.Schema, tb.Name, err)
	}
	switch {
	case greater.Bool:
		f.version = 1
	case !equal.Bool:
		f.version = -1
	}
	if f.version != 0 {
		return local, f, nil
	}
	here := cmp.Or(f.local, w.a.cfg.Target)
	if homeCell {
		if f.in, f.held, err = w.verdicts(ctx, m, pr, b, here, in[col]); err != nil {
			return local, f, err
		}
		if _, _, ok := home(w.a.cfg.Source, here, f); ok {
			return local, f, nil
		}
	}
	if pr.op != event.Delete {
		f.tie, err = tie(ctx, tx, w.a.dialect, tb, pr.after, local)
	}
	return local, f, err
}

// tie compares the incoming image, as the target stores it, with the
// target's row (local, read by currentRow): the two JSON texts, which
// every region computes alike from the same two rows. The incoming row is
// written in a savepoint, read back and rolled back.
func tie(ctx context.Context, tx *sql.Tx, d dialect, tb *event.Table, img []event.Value, local string) (int, error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT region_tie"); err != nil {
		return 0, fmt.Errorf("tie-break on %s.%s: %w", tb.Schema, tb.Name, err)
	}
	s := d.upsert(tb, [][]event.Value{img})
	_, err := tx.ExecContext(ctx, s.query, s.args...)
	var in string
	if err == nil {
		in, _, err = currentRow(ctx, tx, tb, img)
	}
	if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT region_tie"); err == nil {
		err = rerr
	}
	if err != nil {
		return 0, fmt.Errorf("tie-break on %s.%s: %w", tb.Schema, tb.Name, err)
	}
	return strings.Compare(in, local), nil
}

func (w *worker) applyOne(ctx context.Context, tx *sql.Tx, tb *event.Table, r event.Row) error {
	one := &event.Txn{Tables: []event.Table{*tb}, Rows: []event.Row{r}}
	one.Rows[0].T = 0
	to, err := w.a.referencing(ctx, one)
	if err != nil {
		return err
	}
	stmts, err := plan(w.a.dialect, one, to)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := w.exec(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one planned statement, then the foreign key actions it sets
// off; a value the target cannot hold is explained, and an update of a
// row without a primary key that matches no row halts the partition.
func (w *worker) exec(ctx context.Context, tx *sql.Tx, s stmt) error {
	if err := w.execOne(ctx, tx, s); err != nil {
		return err
	}
	return w.cascade(ctx, tx, s.cascades, 0)
}

func (w *worker) execOne(ctx context.Context, tx *sql.Tx, s stmt) error {
	res, err := tx.ExecContext(ctx, s.query, s.args...)
	if s.fresh && duplicateKey(err) {
		return fmt.Errorf("%w: %s.%s: %v", errNotFresh, s.table.Schema, s.table.Name, err)
	}
	if err != nil {
		return explainValue(ctx, w.a.cfg.DB, w.a.cfg.Source+"->"+w.a.cfg.Target, s.table, err)
	}
	if !s.one {
		return nil
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w: %s.%s has no primary key, so an update finds its row by the value of every column, and %s holds no row equal to the source's before image: the table differs between the regions; compare it (regionctl verify --table %s.%s), repair it, then regionctl link retry '%s->%s'",
			ErrRowNotFound, s.table.Schema, s.table.Name, w.a.cfg.Target, s.table.Schema, s.table.Name, w.a.cfg.Source, w.a.cfg.Target)
	}
	return nil
}

// errNotFresh: a key inserted without a locking read first (a fresh
// probe) was in the target after all. The commit rolls back and runs
// again with every key read first (worker.locking), where a conflict is
// found and decided as always.
var errNotFresh = errors.New("a key inserted as new is in the target")

// duplicateKey reports MySQL's duplicate key error (1062).
func duplicateKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

func pkWhere(tb *event.Table, img []event.Value) (string, []any) {
	conds := make([]string, len(tb.PK))
	args := make([]any, len(tb.PK))
	for i, p := range tb.PK {
		conds[i] = quote(tb.Cols[p]) + "=?"
		args[i] = img[p].V
	}
	return strings.Join(conds, " AND "), args
}

// currentRow locks the target row with img's key and returns it as JSON.
func currentRow(ctx context.Context, tx *sql.Tx, tb *event.Table, img []event.Value) (string, bool, error) {
	pairs := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		pairs[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'," + quote(c)
	}
	where, args := pkWhere(tb, img)
	var js sql.NullString
	err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT JSON_OBJECT(%s) FROM %s WHERE %s FOR UPDATE", strings.Join(pairs, ","), tableName(tb), where), args...).Scan(&js)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read current row of %s.%s: %w", tb.Schema, tb.Name, err)
	}
	return js.String, true, nil
}

// conflictRecord is one row of _region.conflicts.
type conflictRecord struct {
	source, target, gtid     string
	tb                       *event.Table
	r                        event.Row
	policy, decision, reason string
	local                    string
}

type execer interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

// imageJSON is a row image of tb as a JSON object by column, as the
// applier's logs keep it (nil for no image).
func imageJSON(tb *event.Table, v []event.Value) any {
	if v == nil {
		return nil
	}
	m := make(map[string]event.Value, len(v))
	for i, col := range tb.Cols {
		m[col] = v[i]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// writeOnce writes the record unless the log already holds it (the same
// source transaction, table, key and decision).
func (c conflictRecord) writeOnce(ctx context.Context, db *sql.DB) error {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.conflicts
		WHERE source = ? AND source_gtid = ? AND db = ? AND tbl = ? AND pk = ? AND decision = ?`,
		c.source, c.gtid, c.tb.Schema, c.tb.Name, c.pk(), c.decision).Scan(&n)
	if err != nil {
		return fmt.Errorf("read conflict log: %w", err)
	}
	if n > 0 {
		return nil
	}
	return c.write(ctx, db)
}

// pk is the row's key as the log stores it.
func (c conflictRecord) pk() string {
	key := c.r.After
	if key == nil {
		key = c.r.Before
	}
	return tombstone.Clip(c.tb.KeyText(key), 1024)
}

func (c conflictRecord) write(ctx context.Context, db execer) error {
	var local any
	if c.local != "" {
		local = tombstone.Printable(c.local)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO `+binlog.MetaSchema+`.conflicts
		(detected_at, source, target, source_gtid, db, tbl, pk, op, policy, decision, reason, local_image, incoming_before, incoming_after)
		VALUES (UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.source, c.target, c.gtid, c.tb.Schema, c.tb.Name, c.pk(), string(c.r.Op), c.policy, c.decision, tombstone.Clip(c.reason, 512),
		local, imageJSON(c.tb, c.r.Before), imageJSON(c.tb, c.r.After))
	if err != nil {
		return fmt.Errorf("write conflict log: %w", err)
	}
	return nil
}
