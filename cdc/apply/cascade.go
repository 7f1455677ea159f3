package apply

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// Foreign key actions. The binlog does not carry the child rows a
// foreign key's ON DELETE or ON UPDATE action changes: InnoDB changes
// them inside the parent's statement, and a native replica changes them
// again because it applies with foreign key checks on. The applier
// writes without them (partitions apply in parallel), so it repeats the
// actions itself, right after the parent row's statement and with the
// target's foreign keys, as a native replica's InnoDB would: CASCADE
// deletes the child rows that held the parent's old values or moves them
// to its new ones, SET NULL sets their columns to NULL, and a child that
// is a parent too passes the action on, up to InnoDB's 15 levels.
// RESTRICT and NO ACTION changed nothing on the source: the parent's
// change would have failed there.

// maxCascadeDepth is InnoDB's limit on nested foreign key actions.
const maxCascadeDepth = 15

// cascade is one foreign key action on the child rows of one parent row.
type cascade struct {
	fk catalog.FK
	// old: the parent's referenced values before the change, which the
	// child rows hold (in fk.Cols order).
	old []any
	// del: delete the child rows; otherwise set their columns to set
	// (the parent's new values, or NULLs).
	del bool
	set []any
}

// referencing returns, by table index, the target's foreign keys that
// reference t's tables with an action that changes child rows; nil when
// there are none.
func (a *Applier) referencing(ctx context.Context, t *event.Txn) ([][]catalog.FK, error) {
	var out [][]catalog.FK
	for i := range t.Tables {
		_, to, err := a.catalog.ForeignKeys(ctx, t.Tables[i].Schema, t.Tables[i].Name)
		if err != nil {
			return nil, err
		}
		for _, fk := range to {
			if fk.OnDelete.Changes() || fk.OnUpdate.Changes() {
				if out == nil {
					out = make([][]catalog.FK, len(t.Tables))
				}
				out[i] = to
				break
			}
		}
	}
	return out, nil
}

// segments splits t after each row that sets off foreign key actions
// (to: by table index, as referencing returns them): the conflict check
// reads the target before a segment applies, and a row after such a row
// was written at the source after the action had changed the children
// (an installment updated after its loan was renumbered holds the new
// number in its before image). Without such a row, t is the only
// segment. The segments share t's tables.
func segments(t *event.Txn, to [][]catalog.FK) []*event.Txn {
	if to == nil {
		return []*event.Txn{t}
	}
	var out []*event.Txn
	start := 0
	for i, r := range t.Rows {
		if fires(&t.Tables[r.T], r, to[r.T]) && i+1 < len(t.Rows) {
			seg := *t
			seg.Rows = t.Rows[start : i+1]
			out, start = append(out, &seg), i+1
		}
	}
	seg := *t
	seg.Rows = t.Rows[start:]
	return append(out, &seg)
}

// fires reports whether row r of tb sets off an action of a foreign key
// of to.
func fires(tb *event.Table, r event.Row, to []catalog.FK) bool {
	for _, fk := range to {
		if fk.FiredBy(tb, r) {
			return true
		}
	}
	return false
}

// cascadesOf returns the actions MySQL took on the children of tb's row r
// (to: the foreign keys that reference tb): ON DELETE for a delete, ON
// UPDATE for an update that changed the referenced columns. A parent
// value with a NULL in it has no children.
func cascadesOf(tb *event.Table, r event.Row, to []catalog.FK) ([]cascade, error) {
	var out []cascade
	for _, fk := range to {
		if !fk.FiredBy(tb, r) {
			continue
		}
		act := fk.OnUpdate
		if r.Op == event.Delete {
			act = fk.OnDelete
		}
		old, err := refValues(tb, r.Before, fk)
		if err != nil {
			return nil, err
		}
		if old == nil {
			continue
		}
		c := cascade{fk: fk, old: old}
		switch {
		case r.Op == event.Update:
			nw, err := refValues(tb, r.After, fk)
			if err != nil {
				return nil, err
			}
			c.set = nw
			if act == catalog.SetNull {
				c.set = make([]any, len(old))
			}
		case act == catalog.Cascade:
			c.del = true
		default:
			c.set = make([]any, len(old))
		}
		out = append(out, c)
	}
	return out, nil
}

// refValues returns img's values of fk.RefCols, or nil when one is NULL.
func refValues(tb *event.Table, img []event.Value, fk catalog.FK) ([]any, error) {
	out := make([]any, len(fk.RefCols))
	for i, name := range fk.RefCols {
		j := tb.ColIndex(name)
		if j < 0 || j >= len(img) {
			return nil, fmt.Errorf("foreign key %s of %s.%s references %s.%s.%s, which the source's row does not carry: the two regions' tables differ; make them the same (regionctl verify --table %s.%s) and retry the link",
				fk.Name, fk.Schema, fk.Table, tb.Schema, tb.Name, name, tb.Schema, tb.Name)
		}
		if img[j].V == nil {
			return nil, nil
		}
		out[i] = img[j].V
	}
	return out, nil
}

// stmt is the statement that applies the action to the child table.
func (c cascade) stmt() stmt {
	tb := &event.Table{Schema: c.fk.Schema, Name: c.fk.Table}
	match := assignments(c.fk.Cols, " AND ")
	if c.del {
		return stmt{query: "DELETE FROM " + tableName(tb) + " WHERE " + match, args: c.old, table: tb}
	}
	args := append(append([]any{}, c.set...), c.old...)
	return stmt{query: "UPDATE " + tableName(tb) + " SET " + assignments(c.fk.Cols, ", ") + " WHERE " + match, args: args, table: tb}
}

// assignments is "`c1` = ?" for each column, joined by sep.
func assignments(cols []string, sep string) string {
	out := make([]string, len(cols))
	for i, col := range cols {
		out[i] = quote(col) + " = ?"
	}
	return strings.Join(out, sep)
}

// children reads the child rows the action changes, for the actions of
// the foreign keys that reference them in turn (to): a table of the
// columns those keys reference and of c's own columns, and one row per
// child as the action changes it.
func (c cascade) children(ctx context.Context, tx *sql.Tx, to []catalog.FK) (*event.Table, []event.Row, error) {
	tb := &event.Table{Schema: c.fk.Schema, Name: c.fk.Table, Cols: append([]string{}, c.fk.Cols...)}
	for _, fk := range to {
		for _, col := range fk.RefCols {
			if tb.ColIndex(col) < 0 {
				tb.Cols = append(tb.Cols, col)
			}
		}
	}
	sel := make([]string, len(tb.Cols))
	for i, col := range tb.Cols {
		sel[i] = quote(col)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+tableName(tb)+" WHERE "+assignments(c.fk.Cols, " AND ")+" FOR UPDATE", c.old...)
	if err != nil {
		return nil, nil, fmt.Errorf("read the rows of %s.%s that foreign key %s cascades to: %w", tb.Schema, tb.Name, c.fk.Name, err)
	}
	defer rows.Close()
	var out []event.Row
	for rows.Next() {
		vals := make([]any, len(tb.Cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		r := event.Row{Op: event.Delete, Before: event.NewValues(vals...)}
		if !c.del {
			r.Op = event.Update
			r.After = append([]event.Value{}, r.Before...)
			for i := range c.fk.Cols {
				r.After[i] = event.NewValue(c.set[i])
			}
		}
		out = append(out, r)
	}
	return tb, out, rows.Err()
}

// cascade repeats the foreign key actions cs in tx, and those they set
// off in turn.
func (w *worker) cascade(ctx context.Context, tx *sql.Tx, cs []cascade, depth int) error {
	for _, c := range cs {
		if depth >= maxCascadeDepth {
			return fmt.Errorf("foreign key %s of %s.%s: actions nested deeper than %d levels, which InnoDB refuses too", c.fk.Name, c.fk.Schema, c.fk.Table, maxCascadeDepth)
		}
		_, to, err := w.a.catalog.ForeignKeys(ctx, c.fk.Schema, c.fk.Table)
		if err != nil {
			return err
		}
		var next []cascade
		if len(to) > 0 {
			tb, rows, err := c.children(ctx, tx, to)
			if err != nil {
				return err
			}
			for _, r := range rows {
				more, err := cascadesOf(tb, r, to)
				if err != nil {
					return err
				}
				next = append(next, more...)
			}
		}
		if err := w.exec(ctx, tx, c.stmt()); err != nil {
			return err
		}
		if err := w.cascade(ctx, tx, next, depth+1); err != nil {
			return err
		}
	}
	return nil
}
