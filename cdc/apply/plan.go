package apply

import (
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// stmt is one SQL statement with its arguments.
type stmt struct {
	query string
	args  []any
	// table is the table the statement writes.
	table *event.Table
	// one: the statement must change exactly one row (an update of a
	// table without a primary key, matched by its whole before image).
	one bool
	// fresh: a plain INSERT of fresh keys (netTxn.markFresh); a duplicate key
	// means one was there after all (errNotFresh).
	fresh bool
	// cascades: the foreign key actions the statement's row set off on
	// the source, repeated right after it (cascade.go).
	cascades []cascade
}

// maxBatchRows bounds the rows of one multi-row upsert.
const maxBatchRows = 500

// plan turns a transaction's rows into idempotent statements, in order:
// inserts and updates become upserts of the after image (consecutive ones
// on the same table share one statement), an update that changes the
// primary key first deletes the old key, deletes delete by primary key.
// Applying the plan twice leaves the same rows as applying it once.
//
// A table without a primary key is applied as MySQL's own replica does:
// inserts insert, and an update or delete changes one row equal to the
// before image in every column. Its rows are then not idempotent; the
// checkpoint in the same transaction is what keeps them exactly once.
//
// to gives, by table index, the target's foreign keys that reference the
// table (nil: none): a row whose change set off their actions on the
// source gets statements of its own, which carry the actions
// (cascade.go).
func plan(d dialect, t *event.Txn, to [][]catalog.FK) ([]stmt, error) {
	var out []stmt
	var pending *event.Table
	var rows [][]event.Value
	flush := func() {
		if len(rows) > 0 {
			out = append(out, d.upsert(pending, rows))
		}
		pending, rows = nil, nil
	}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		var cs []cascade
		if r.T < len(to) && len(to[r.T]) > 0 {
			var err error
			if cs, err = cascadesOf(tb, r, to[r.T]); err != nil {
				return nil, err
			}
		}
		switch {
		case len(tb.PK) == 0 && r.Op != event.Insert:
			flush()
			out = append(out, matchRow(tb, r))
		case r.Op == event.Delete:
			flush()
			out = append(out, deleteRow(tb, r.Before))
		default:
			if r.Op == event.Update && tb.KeyChanged(r.Before, r.After) {
				flush()
				out = append(out, deleteRow(tb, r.Before))
			}
			if pending != nil && (pending != tb || len(rows) >= maxBatchRows) {
				flush()
			}
			pending = tb
			rows = append(rows, r.After)
			if len(cs) > 0 {
				flush()
			}
		}
		if len(cs) > 0 {
			out[len(out)-1].cascades = cs
		}
	}
	flush()
	return out, nil
}

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func tableName(tb *event.Table) string { return quote(tb.Schema) + "." + quote(tb.Name) }

// dialect is the target server's SQL where MariaDB's and MySQL 8's
// differ: MySQL 8.0.20+ deprecates VALUES() in ON DUPLICATE KEY UPDATE
// for a row alias (8.0.19+), which MariaDB does not have.
type dialect struct{ rowAlias bool }

// dialectOf is the dialect of a target of flavor ("mysql" or "mariadb").
func dialectOf(flavor string) dialect { return dialect{rowAlias: flavor == "mysql"} }

// newRow is the row alias of MySQL 8's upsert.
const newRow = "`_region_new`"

// insert inserts rows of fresh keys: a key that exists fails it.
func (d dialect) insert(tb *event.Table, rows [][]event.Value) stmt {
	var b strings.Builder
	args := insertRows(&b, tb, rows)
	return stmt{query: b.String(), args: args, table: tb, fresh: true}
}

// upsert inserts rows, or (with a primary key) replaces the ones whose
// key exists.
func (d dialect) upsert(tb *event.Table, rows [][]event.Value) stmt {
	var b strings.Builder
	args := insertRows(&b, tb, rows)
	if len(tb.PK) == 0 {
		return stmt{query: b.String(), args: args, table: tb}
	}
	if d.rowAlias {
		b.WriteString(" AS " + newRow)
	}
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for i, c := range tb.Cols {
		if i > 0 {
			b.WriteByte(',')
		}
		if c := quote(c); d.rowAlias {
			fmt.Fprintf(&b, "%s=%s.%s", c, newRow, c)
		} else {
			fmt.Fprintf(&b, "%s=VALUES(%s)", c, c)
		}
	}
	return stmt{query: b.String(), args: args, table: tb}
}

// insertRows writes INSERT INTO tb (cols) VALUES (...),... of rows to b
// and returns its arguments.
func insertRows(b *strings.Builder, tb *event.Table, rows [][]event.Value) []any {
	cols := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		cols[i] = quote(c)
	}
	fmt.Fprintf(b, "INSERT INTO %s (%s) VALUES ", tableName(tb), strings.Join(cols, ","))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	args := make([]any, 0, len(rows)*len(cols))
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
		for _, v := range r {
			args = append(args, v.V)
		}
	}
	return args
}

func deleteRow(tb *event.Table, before []event.Value) stmt {
	conds := make([]string, len(tb.PK))
	args := make([]any, len(tb.PK))
	for i, p := range tb.PK {
		conds[i] = quote(tb.Cols[p]) + "=?"
		args[i] = before[p].V
	}
	return stmt{query: fmt.Sprintf("DELETE FROM %s WHERE %s", tableName(tb), strings.Join(conds, " AND ")), args: args, table: tb}
}

// matchRow updates or deletes one row of a table without a primary key:
// the first one equal to the before image in every column (NULL-safe).
// An update must find it; a delete of a row already gone changes nothing,
// as a delete by primary key does.
func matchRow(tb *event.Table, r event.Row) stmt {
	conds := make([]string, len(tb.Cols))
	var args []any
	if r.Op == event.Update {
		sets := make([]string, len(tb.Cols))
		for i, c := range tb.Cols {
			sets[i] = quote(c) + "=?"
			args = append(args, r.After[i].V)
		}
		for i, c := range tb.Cols {
			conds[i] = quote(c) + " <=> ?"
			args = append(args, r.Before[i].V)
		}
		return stmt{query: fmt.Sprintf("UPDATE %s SET %s WHERE %s LIMIT 1", tableName(tb), strings.Join(sets, ","), strings.Join(conds, " AND ")),
			args: args, table: tb, one: true}
	}
	for i, c := range tb.Cols {
		conds[i] = quote(c) + " <=> ?"
		args = append(args, r.Before[i].V)
	}
	return stmt{query: fmt.Sprintf("DELETE FROM %s WHERE %s LIMIT 1", tableName(tb), strings.Join(conds, " AND ")), args: args, table: tb}
}
