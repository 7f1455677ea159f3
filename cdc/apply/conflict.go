package apply

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// A conflict is a row changed in two regions before either change reached
// the other: the target row matches neither the incoming change's before
// image nor its after image. Tables whose policy is not overwrite are
// checked row by row, inside the apply transaction, and every conflict is
// written to _region.conflicts with both images and the decision:
//
//   - last-writer-wins: the change with the higher version column stands;
//     on equal versions, the change from the region whose name sorts first
//     (both sides apply the same rule, so they converge). The competing
//     row is taken as written in the target region, which holds for two
//     regions; with three, give the version column enough resolution
//     (a timestamp with microseconds) that ties do not happen.
//   - home-cell-wins: the change from the region that owns the row's bucket
//     stands (Config.Owner).
//   - reject: the partition halts; an operator decides (regionctl verify).
//
// Overwrite tables are not checked: the incoming change simply applies.
// A table not listed in the config has replication.default_conflict.

// policy is a table's resolution settings.
type policy struct {
	name    string
	version string // column compared by last-writer-wins
	shard   string // column whose bucket owns the row
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
		return policy{name: cmp.Or(a.cfg.DefaultConflict, config.ConflictOverwrite)}
	}
	return p
}

// applyRows applies one message's rows in tx: overwrite tables in batched
// upserts, checked tables row by row.
func (w *worker) applyRows(ctx context.Context, tx *sql.Tx, m *event.Message) error {
	t, err := w.a.withoutDropped(ctx, m.Txn)
	if err != nil {
		return err
	}
	for i := range t.Tables {
		if err := w.a.guarded(ctx, &t.Tables[i]); err != nil {
			return err
		}
	}
	start := 0
	run := func(end int) error {
		if end <= start {
			return nil
		}
		part := *t
		part.Rows = t.Rows[start:end]
		for _, s := range plan(&part) {
			if err := w.exec(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	}
	for i, r := range t.Rows {
		tb := &t.Tables[r.T]
		p := w.a.policyOf(tb)
		if len(tb.PK) == 0 {
			if p.name != config.ConflictOverwrite {
				return fmt.Errorf("%w: %s.%s has conflict policy %s, which needs a primary key to find the row; add a primary key, or give the table conflict: overwrite", ErrNoPrimaryKey, tb.Schema, tb.Name, p.name)
			}
			continue // applied in plan's runs, matched by the whole row
		}
		uks, err := w.a.catalog.UniqueKeys(ctx, tb.Schema, tb.Name)
		if err != nil {
			return err
		}
		if p.name == config.ConflictOverwrite && len(uks) == 0 {
			continue
		}
		if err := run(i); err != nil {
			return err
		}
		start = i + 1
		if err := w.applyChecked(ctx, tx, m, tb, r, p, uks); err != nil {
			return err
		}
	}
	return run(len(t.Rows))
}

// applyChecked applies one row of a checked table (a policy other than
// overwrite, or secondary unique keys), resolving a conflict.
func (w *worker) applyChecked(ctx context.Context, tx *sql.Tx, m *event.Message, tb *event.Table, r event.Row, p policy, uks []catalog.Key) error {
	key := r.After
	if key == nil {
		key = r.Before
	}
	if r.Op != event.Delete && len(uks) > 0 {
		uk, other, otherPK, err := collision(ctx, tx, tb, uks, r.After)
		if err != nil {
			return err
		}
		if uk != "" {
			reason := fmt.Sprintf("unique key %s: the incoming row (%s) has the value that row %s holds in %s; no row is rewritten", uk, pkString(tb, key), otherPK, w.a.cfg.Target)
			rec := conflictRecord{source: w.a.cfg.Source, target: w.a.cfg.Target, gtid: m.Txn.GTID, tb: tb, r: r, policy: p.name,
				decision: decideStop, reason: reason, local: other}
			w.a.m.conflicts.Inc()
			if err := rec.write(ctx, w.a.cfg.DB); err != nil {
				return err
			}
			return fmt.Errorf("%w: %s.%s: %s (both rows are in %s.conflicts): decide which row stands, repair it in every region (regionctl verify --repair), then regionctl link retry", ErrUniqueConflict, tb.Schema, tb.Name, reason, binlog.MetaSchema)
		}
	}
	if p.name == config.ConflictOverwrite {
		return w.applyOne(ctx, tx, tb, r)
	}
	local, exists, err := currentRow(ctx, tx, tb, key)
	if err != nil {
		return err
	}
	equals := func(img []event.Value) (bool, error) { return rowEquals(ctx, tx, tb, img) }
	conflict := false
	switch r.Op {
	case event.Insert:
		if exists {
			same, err := equals(r.After)
			if err != nil {
				return err
			}
			conflict = !same
		}
	case event.Update:
		if !exists {
			conflict = true
		} else {
			sameBefore, err := equals(r.Before)
			if err != nil {
				return err
			}
			sameAfter, err := equals(r.After)
			if err != nil {
				return err
			}
			conflict = !sameBefore && !sameAfter
		}
	case event.Delete:
		if !exists {
			return nil // already gone
		}
		same, err := equals(r.Before)
		if err != nil {
			return err
		}
		conflict = !same
	}
	if !conflict {
		return w.applyOne(ctx, tx, tb, r)
	}
	decision, reason, err := w.decide(ctx, tx, m, tb, r, p, exists)
	if err != nil {
		return err
	}
	rec := conflictRecord{source: w.a.cfg.Source, target: w.a.cfg.Target, gtid: m.Txn.GTID, tb: tb, r: r, policy: p.name,
		decision: decision, reason: reason, local: local}
	if decision == decideStop {
		// The apply transaction rolls back: record the conflict on its own.
		if err := rec.write(ctx, w.a.cfg.DB); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s.%s key %s: %s (both images are in %s.conflicts)", ErrConflict, tb.Schema, tb.Name, pkString(tb, key), reason, binlog.MetaSchema)
	}
	w.a.m.conflicts.Inc()
	if err := rec.write(ctx, tx); err != nil {
		return err
	}
	if decision == decideApply {
		return w.applyOne(ctx, tx, tb, r)
	}
	return nil
}

// decide resolves a conflict by the table's policy.
func (w *worker) decide(ctx context.Context, tx *sql.Tx, m *event.Message, tb *event.Table, r event.Row, p policy, exists bool) (string, string, error) {
	src, dst := w.a.cfg.Source, w.a.cfg.Target
	switch p.name {
	case config.ConflictReject:
		return decideStop, "policy reject", nil
	case config.ConflictHomeCellWins:
		img := r.After
		if img == nil {
			img = r.Before
		}
		col := colIndex(tb, p.shard)
		if col < 0 || w.a.cfg.Owners == nil {
			return decideStop, fmt.Sprintf("home-cell-wins needs shard column %q and the bucket owners", p.shard), nil
		}
		owner := w.a.cfg.Owners.Owner(topo.BucketOfString(img[col].Text(), w.a.cfg.Buckets))
		if owner == src {
			return decideApply, fmt.Sprintf("the row's home region is %s, the source", owner), nil
		}
		return decideKeep, fmt.Sprintf("the row's home region is %s, not the source %s", owner, src), nil
	case config.ConflictLastWriterWins:
		col := colIndex(tb, p.version)
		if col < 0 {
			return decideStop, fmt.Sprintf("last-writer-wins needs version column %q, which the table does not have", p.version), nil
		}
		img := r.After
		if r.Op == event.Delete {
			img = r.Before
		}
		if !exists {
			// Updated at the source, deleted here: a delete wins against
			// a concurrent update, in every region.
			return decideKeep, "the row was deleted here; a delete wins against a concurrent update", nil
		}
		if r.Op == event.Delete {
			// Deleted at the source, updated here: the same rule the other
			// way, so both regions end without the row (whatever the
			// versions: comparing them left the row in one region only).
			return decideApply, "deleted in " + src + "; a delete wins against a concurrent update", nil
		}
		var greater, equal sql.NullBool
		key := r.After
		if key == nil {
			key = r.Before
		}
		where, args := pkWhere(tb, key)
		q := fmt.Sprintf("SELECT ? > %s, ? = %s FROM %s WHERE %s", quote(p.version), quote(p.version), tableName(tb), where)
		if err := tx.QueryRowContext(ctx, q, append([]any{img[col].V, img[col].V}, args...)...).Scan(&greater, &equal); err != nil {
			return "", "", fmt.Errorf("compare versions: %w", err)
		}
		switch {
		case greater.Bool:
			return decideApply, "the incoming version is higher", nil
		case equal.Bool && src < dst:
			return decideApply, fmt.Sprintf("equal versions; %s sorts before %s", src, dst), nil
		case equal.Bool:
			return decideKeep, fmt.Sprintf("equal versions; %s sorts before %s", dst, src), nil
		}
		return decideKeep, "the local version is higher", nil
	}
	return decideStop, fmt.Sprintf("unknown policy %q", p.name), nil
}

func colIndex(tb *event.Table, name string) int {
	for i, c := range tb.Cols {
		if c == name {
			return i
		}
	}
	return -1
}

func (w *worker) applyOne(ctx context.Context, tx *sql.Tx, tb *event.Table, r event.Row) error {
	var stmts []stmt
	switch r.Op {
	case event.Insert:
		stmts = []stmt{upsert(tb, [][]event.Value{r.After})}
	case event.Update:
		if pkChanged(tb, r.Before, r.After) {
			stmts = append(stmts, deleteRow(tb, r.Before))
		}
		stmts = append(stmts, upsert(tb, [][]event.Value{r.After}))
	case event.Delete:
		stmts = []stmt{deleteRow(tb, r.Before)}
	}
	for _, s := range stmts {
		if err := w.exec(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one planned statement; a value the target cannot hold is
// explained, and an update of a row without a primary key that matches
// no row halts the partition.
func (w *worker) exec(ctx context.Context, tx *sql.Tx, s stmt) error {
	res, err := tx.ExecContext(ctx, s.query, s.args...)
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

func pkWhere(tb *event.Table, img []event.Value) (string, []any) {
	conds := make([]string, len(tb.PK))
	args := make([]any, len(tb.PK))
	for i, p := range tb.PK {
		conds[i] = quote(tb.Cols[p]) + "=?"
		args[i] = img[p].V
	}
	return strings.Join(conds, " AND "), args
}

func pkString(tb *event.Table, img []event.Value) string {
	parts := make([]string, len(tb.PK))
	for i, p := range tb.PK {
		parts[i] = tb.Cols[p] + "=" + img[p].Text()
	}
	return strings.Join(parts, ",")
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

// rowEquals reports whether the target row equals img, compared by MySQL
// itself (null-safe), so types convert the way the server converts them.
func rowEquals(ctx context.Context, tx *sql.Tx, tb *event.Table, img []event.Value) (bool, error) {
	conds := make([]string, len(tb.Cols))
	args := make([]any, len(tb.Cols))
	for i, c := range tb.Cols {
		conds[i] = quote(c) + " <=> ?"
		args[i] = img[i].V
	}
	var n int
	if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", tableName(tb), strings.Join(conds, " AND ")), args...).Scan(&n); err != nil {
		return false, fmt.Errorf("compare row of %s.%s: %w", tb.Schema, tb.Name, err)
	}
	return n > 0, nil
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

func (c conflictRecord) write(ctx context.Context, db execer) error {
	img := func(v []event.Value) any {
		if v == nil {
			return nil
		}
		m := make(map[string]event.Value, len(v))
		for i, col := range c.tb.Cols {
			m[col] = v[i]
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	key := c.r.After
	if key == nil {
		key = c.r.Before
	}
	var local any
	if c.local != "" {
		local = c.local
	}
	_, err := db.ExecContext(ctx, `INSERT INTO `+binlog.MetaSchema+`.conflicts
		(detected_at, source, target, source_gtid, db, tbl, pk, op, policy, decision, reason, local_image, incoming_before, incoming_after)
		VALUES (UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.source, c.target, c.gtid, c.tb.Schema, c.tb.Name, clip(pkString(c.tb, key), 1024), string(c.r.Op), c.policy, c.decision, clip(c.reason, 512),
		local, img(c.r.Before), img(c.r.After))
	if err != nil {
		return fmt.Errorf("write conflict log: %w", err)
	}
	return nil
}

// clip shortens s to at most n characters (the conflict log's column
// widths: the applier's session is strict), marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
