package apply

import (
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/event"
)

// stmt is one SQL statement with its arguments.
type stmt struct {
	query string
	args  []any
	// table is the table the statement writes.
	table *event.Table
}

// maxBatchRows bounds the rows of one multi-row upsert.
const maxBatchRows = 500

// plan turns a transaction's rows into idempotent statements, in order:
// inserts and updates become upserts of the after image (consecutive ones
// on the same table share one statement), an update that changes the
// primary key first deletes the old key, deletes delete by primary key.
// Applying the plan twice leaves the same rows as applying it once.
func plan(t *event.Txn) []stmt {
	var out []stmt
	var pending *event.Table
	var rows [][]event.Value
	flush := func() {
		if len(rows) > 0 {
			out = append(out, upsert(pending, rows))
		}
		pending, rows = nil, nil
	}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		switch r.Op {
		case event.Insert, event.Update:
			if r.Op == event.Update && pkChanged(tb, r.Before, r.After) {
				flush()
				out = append(out, deleteRow(tb, r.Before))
			}
			if pending != nil && (pending != tb || len(rows) >= maxBatchRows) {
				flush()
			}
			pending = tb
			rows = append(rows, r.After)
		case event.Delete:
			flush()
			out = append(out, deleteRow(tb, r.Before))
		}
	}
	flush()
	return out
}

func pkChanged(tb *event.Table, before, after []event.Value) bool {
	for _, p := range tb.PK {
		if !before[p].Equal(after[p]) {
			return true
		}
	}
	return false
}

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func tableName(tb *event.Table) string { return quote(tb.Schema) + "." + quote(tb.Name) }

func upsert(tb *event.Table, rows [][]event.Value) stmt {
	var b strings.Builder
	cols := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		cols[i] = quote(c)
	}
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", tableName(tb), strings.Join(cols, ","))
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
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=VALUES(%s)", c, c)
	}
	return stmt{b.String(), args, tb}
}

func deleteRow(tb *event.Table, before []event.Value) stmt {
	conds := make([]string, len(tb.PK))
	args := make([]any, len(tb.PK))
	for i, p := range tb.PK {
		conds[i] = quote(tb.Cols[p]) + "=?"
		args[i] = before[p].V
	}
	return stmt{fmt.Sprintf("DELETE FROM %s WHERE %s", tableName(tb), strings.Join(conds, " AND ")), args, tb}
}
