package seed

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
		if strings.Contains(strings.ToUpper(extra), "GENERATED") {
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

// inserter gathers rows into one multi-row INSERT.
type inserter struct {
	def              tableDef
	maxRows, maxSize int
	args             []any
	rows, size       int
}

func newInserter(def tableDef, maxRows, maxSize int) *inserter {
	// A prepared statement takes at most 65,535 placeholders.
	maxRows = min(maxRows, 60000/len(def.cols))
	return &inserter{def: def, maxRows: max(maxRows, 1), maxSize: maxSize}
}

// add appends one row (copying its values) and reports whether the batch
// is full.
func (in *inserter) add(vals []any) bool {
	for i, v := range vals {
		switch b := v.(type) {
		case []byte:
			in.size += len(b)
			if in.def.binary[i] {
				in.args = append(in.args, b) // database/sql gave a copy
			} else {
				in.args = append(in.args, string(b))
			}
		case nil:
			in.args = append(in.args, nil)
		default:
			in.size += 8
			in.args = append(in.args, b)
		}
	}
	in.rows++
	return in.rows >= in.maxRows || in.size >= in.maxSize
}

// flush inserts the gathered rows and returns how many.
func (in *inserter) flush(ctx context.Context, conn *sql.Conn) (int64, error) {
	if in.rows == 0 {
		return 0, nil
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(in.def.cols)), ", ") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + quoteName(in.def.db) + "." + quoteName(in.def.tbl) + " (" + quoteList(in.def.cols) + ") VALUES ")
	for i := range in.rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	if _, err := conn.ExecContext(ctx, b.String(), in.args...); err != nil {
		return 0, err
	}
	n := int64(in.rows)
	in.args, in.rows, in.size = in.args[:0], 0, 0
	return n, nil
}

func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteName(c)
	}
	return strings.Join(q, ", ")
}
