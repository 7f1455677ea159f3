package apply

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/event"
)

// quickStates reads the target rows of ps[group...] (one table) by their
// keys, with a locking read of the same keys as the exact probe's, and
// sets each probe's state from a byte comparison of the row's text with
// the images (sameText). It returns false, leaving out undefined, when a
// row cannot be told apart from another probe's by its text: keys that
// are not all integers (a case-insensitive key 'abc' also finds 'ABC'),
// a row whose key text matches no probe, or two rows for one.
func quickStates(ctx context.Context, tx *sql.Tx, ps []*probe, group []int, out []state) (bool, error) {
	tb := ps[group[0]].tb
	byKey := make(map[string]int, len(group))
	var where strings.Builder
	var args []any
	for n, i := range group {
		key, ok := intKey(tb, ps[i].key())
		if _, dup := byKey[key]; !ok || dup {
			return false, nil
		}
		byKey[key] = i
		out[i] = state{}
		w, a := pkWhere(tb, ps[i].key())
		if n > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(" + w + ")")
		args = append(args, a...)
	}
	cols := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		cols[i] = quote(c)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s FOR UPDATE", strings.Join(cols, ", "), tableName(tb), where.String()), args...)
	if err != nil {
		return false, fmt.Errorf("read the target rows of the transaction's keys: %w", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return false, fmt.Errorf("read the target rows of the transaction's keys: %w", err)
	}
	temporal := make([]bool, len(types))
	for i, ct := range types {
		switch ct.DatabaseTypeName() {
		case "DATETIME", "TIMESTAMP", "DATE":
			temporal[i] = true
		}
	}
	row := make([]sql.RawBytes, len(tb.Cols))
	dest := make([]any, len(row))
	for i := range row {
		dest[i] = &row[i]
	}
	var key []byte
	ok := true
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return false, fmt.Errorf("read the target rows of the transaction's keys: %w", err)
		}
		key = key[:0]
		for n, p := range tb.PK {
			if n > 0 {
				key = append(key, 0)
			}
			key = append(key, row[p]...)
		}
		i, found := byKey[string(key)]
		if !found || out[i].exists {
			ok = false // read the rest: the connection must be free again
			continue
		}
		out[i] = state{exists: true, sameBefore: sameText(row, temporal, ps[i].before), sameAfter: sameText(row, temporal, ps[i].after)}
	}
	return ok, rows.Err()
}

// intKey renders img's primary key as the target returns it in text, if
// every key column's value is an integer.
func intKey(tb *event.Table, img []event.Value) (string, bool) {
	var b []byte
	for n, p := range tb.PK {
		if n > 0 {
			b = append(b, 0)
		}
		switch v := img[p].V.(type) {
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		default:
			return "", false
		}
	}
	return string(b), len(tb.PK) > 0
}

// sameText reports whether the target's row, as the text MySQL returns,
// is byte for byte the image (nil: no image, false); a DATETIME,
// TIMESTAMP or DATE column (temporal), which the driver returns as a
// time (parseTime) that database/sql writes in RFC 3339, is compared as
// the instant the image's text names. A true is exact: the same text of
// the same column is the same value, for MySQL's <=> too. A false may be
// a value MySQL finds equal all the same (a float, another collation's
// case, a CHAR's trailing spaces): the caller asks MySQL then.
func sameText(row []sql.RawBytes, temporal []bool, img []event.Value) bool {
	if img == nil || len(img) != len(row) {
		return false
	}
	var num [24]byte
	for i, v := range img {
		got := row[i]
		switch x := v.V.(type) {
		case nil:
			if got != nil {
				return false
			}
		case int64:
			if got == nil || !bytes.Equal(got, strconv.AppendInt(num[:0], x, 10)) {
				return false
			}
		case uint64:
			if got == nil || !bytes.Equal(got, strconv.AppendUint(num[:0], x, 10)) {
				return false
			}
		case string:
			if got == nil || (string(got) != x && !(temporal[i] && sameTime(got, x))) {
				return false
			}
		case []byte:
			if got == nil || !bytes.Equal(got, x) {
				return false
			}
		default: // a float's text is the server's to judge
			return false
		}
	}
	return true
}

// sameTime reports whether got, a time as database/sql writes it
// (RFC 3339, UTC: the applier's session and driver both use UTC), is the
// instant MySQL's text img names ("2006-01-02 15:04:05.999999" or
// "2006-01-02"). A zero date is never the same here.
func sameTime(got []byte, img string) bool {
	g, err := time.Parse(time.RFC3339Nano, string(got))
	if err != nil || g.IsZero() || g.Location() != time.UTC {
		return false
	}
	layout := "2006-01-02 15:04:05.999999999"
	if len(img) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	want, err := time.ParseInLocation(layout, img, time.UTC)
	return err == nil && want.Equal(g)
}
