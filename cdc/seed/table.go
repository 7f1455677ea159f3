package seed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
)

// tableDef is what the copy needs of one table of the donor.
type tableDef struct {
	db, tbl string
	create  string   // SHOW CREATE TABLE
	cols    []string // the columns that take values (not generated)
	// binary marks the columns whose values go as bytes (binary strings,
	// BIT, spatial); the others go as text in the connection's character
	// set, so that a latin1 column gets its characters, not UTF-8 bytes.
	binary   []bool
	estimate int64
}

func readTable(ctx context.Context, conn *sql.Conn, db, tbl string) (tableDef, error) {
	d := tableDef{db: db, tbl: tbl}
	var name string
	if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteName(db)+"."+quoteName(tbl)).Scan(&name, &d.create); err != nil {
		return d, fmt.Errorf("read the donor's table: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), EXTRA FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, tbl)
	if err != nil {
		return d, fmt.Errorf("read the donor's columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var col, typ, cs, extra string
		if err := rows.Scan(&col, &typ, &cs, &extra); err != nil {
			return d, fmt.Errorf("read the donor's columns: %w", err)
		}
		if catalog.IsGenerated(extra) {
			continue // computed by the target from the others
		}
		d.cols = append(d.cols, col)
		d.binary = append(d.binary, binaryValue(typ, cs))
	}
	if err := rows.Err(); err != nil {
		return d, err
	}
	if len(d.cols) == 0 {
		return d, fmt.Errorf("the donor's table has no column to copy")
	}
	var est sql.NullInt64
	_ = conn.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, db, tbl).Scan(&est)
	d.estimate = est.Int64
	return d, nil
}

// binaryValue reports whether a column's values are bytes rather than
// characters.
func binaryValue(dataType, charset string) bool {
	switch strings.ToLower(dataType) {
	case "bit", "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return true
	}
	return charset == "binary"
}

// batch is rows gathered for one multi-row INSERT.
type batch struct {
	args       []any
	rows, size int
}

// batcher gathers rows into batches.
type batcher struct {
	def              tableDef
	maxRows, maxSize int
	cur              *batch
}

func newBatcher(def tableDef, maxRows, maxSize int) *batcher {
	// A prepared statement takes at most 65,535 placeholders.
	maxRows = min(maxRows, 60000/len(def.cols))
	return &batcher{def: def, maxRows: max(maxRows, 1), maxSize: maxSize, cur: &batch{}}
}

// add appends one row and returns the batch when it is full (nil before).
func (bt *batcher) add(vals []any) *batch {
	b := bt.cur
	for i, v := range vals {
		switch x := v.(type) {
		case []byte:
			b.size += len(x)
			if bt.def.binary[i] {
				b.args = append(b.args, x) // database/sql gave a copy
			} else {
				b.args = append(b.args, string(x))
			}
		case nil:
			b.args = append(b.args, nil)
		default:
			b.size += 8
			b.args = append(b.args, x)
		}
	}
	b.rows++
	if b.rows < bt.maxRows && b.size < bt.maxSize {
		return nil
	}
	return bt.rest()
}

// rest returns the batch being gathered (nil when empty) and starts anew.
func (bt *batcher) rest() *batch {
	b := bt.cur
	bt.cur = &batch{args: make([]any, 0, len(b.args))}
	if b.rows == 0 {
		return nil
	}
	return b
}

// insert writes a batch as one multi-row INSERT.
func insert(ctx context.Context, conn *sql.Conn, def tableDef, b *batch) error {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(def.cols)), ", ") + ")"
	var q strings.Builder
	q.WriteString("INSERT INTO " + quoteName(def.db) + "." + quoteName(def.tbl) + " (" + quoteList(def.cols) + ") VALUES ")
	for i := range b.rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
	}
	_, err := conn.ExecContext(ctx, q.String(), b.args...)
	return err
}

func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteName(c)
	}
	return strings.Join(q, ", ")
}
