package apply

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/regionplatform/region/cdc/event"
)

// probeChunk bounds the keys one probe query reads.
const probeChunk = 100

// state is what the target holds for a probe's key.
type state struct {
	exists, sameBefore, sameAfter bool
}

// readStates reads, with locking reads of probeChunk probes at a time,
// whether the target holds each probe's key and whether that row equals
// the probe's before and after images. A fresh probe is not read: it is
// taken as absent (see probe.fresh).
//
// The images are compared the way MySQL compares them (NULL-safe, values
// converted as the server converts them: a case-insensitive collation, a
// CHAR's trailing spaces, an ENUM's index). Sending every image to the
// server for that made the probe the target's costliest statement (about
// 27 us a key against 7 for reading the row, most of MySQL's CPU while a
// backlog drains), so each table's rows are read by their keys first and
// compared here, byte for byte, with the image as text (quick.go): equal
// text is an equal value to MySQL too, so a probe whose decision that
// settles (conflicted is false) is done; only the others (a conflict, or
// a value whose text differs from the server's) are read again with the
// server's comparison (exactChunk).
func readStates(ctx context.Context, tx *sql.Tx, ps []*probe) ([]state, error) {
	out := make([]state, len(ps))
	var order []int // probes grouped by table, in first-seen order
	for i, p := range ps {
		if !p.fresh {
			order = append(order, i)
		}
	}
	first := map[*event.Table]int{}
	for i, p := range ps {
		if _, ok := first[p.tb]; !ok {
			first[p.tb] = i
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return first[ps[order[i]].tb] < first[ps[order[j]].tb] })
	for len(order) > 0 {
		n := min(len(order), probeChunk)
		if err := readChunk(ctx, tx, ps, order[:n], out); err != nil {
			return nil, err
		}
		order = order[n:]
	}
	return out, nil
}

// readChunk reads the states of ps[idx...] (grouped by table).
func readChunk(ctx context.Context, tx *sql.Tx, ps []*probe, idx []int, out []state) error {
	var exact []int
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && ps[idx[end]].tb == ps[idx[start]].tb {
			end++
		}
		group := idx[start:end]
		ok, err := quickStates(ctx, tx, ps, group, out)
		if err != nil {
			return err
		}
		for _, i := range group {
			if !ok || conflicted(ps[i].op, out[i].exists, out[i].sameBefore, out[i].sameAfter) {
				out[i] = state{}
				exact = append(exact, i)
			}
		}
		start = end
	}
	if len(exact) == 0 {
		return nil
	}
	return exactChunk(ctx, tx, ps, exact, out)
}

// exactChunk reads the states of ps[idx...] (grouped by table) in one
// query (a UNION ALL of one SELECT per table) that compares the images
// in MySQL.
func exactChunk(ctx context.Context, tx *sql.Tx, ps []*probe, idx []int, out []state) error {
	var parts []string
	var args []any
	for start := 0; start < len(idx); {
		end := start + 1
		for end < len(idx) && ps[idx[end]].tb == ps[idx[start]].tb {
			end++
		}
		q, a := probeQuery(ps, idx, start, end)
		parts, args = append(parts, "("+q+")"), append(args, a...)
		start = end
	}
	rows, err := tx.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return fmt.Errorf("read the target rows of the transaction's keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var sb, sa sql.NullBool
		if err := rows.Scan(&i, &sb, &sa); err != nil {
			return fmt.Errorf("read the target rows of the transaction's keys: %w", err)
		}
		if i < 0 || i >= len(idx) {
			return fmt.Errorf("read the target rows of the transaction's keys: row %d matches no key asked for", i)
		}
		out[idx[i]] = state{exists: true, sameBefore: sb.Bool, sameAfter: sa.Bool}
	}
	return rows.Err()
}

// probeQuery builds, for the probes ps[idx[start:end]] (one table),
//
//	SELECT CASE WHEN <key> THEN <n> ... END,
//	       CASE WHEN <key> THEN <row = before> ... END,
//	       CASE WHEN <key> THEN <row = after> ... END
//	FROM t WHERE <key> OR <key> ... FOR UPDATE
//
// where n is the probe's place in idx.
func probeQuery(ps []*probe, idx []int, start, end int) (string, []any) {
	tb := ps[idx[start]].tb
	var args []any
	keyCond := func(p *probe) string {
		where, a := pkWhere(tb, p.key())
		args = append(args, a...)
		return "(" + where + ")"
	}
	same := func(img []event.Value) string {
		if img == nil {
			return "FALSE"
		}
		conds := make([]string, len(tb.Cols))
		for i, c := range tb.Cols {
			conds[i] = quote(c) + " <=> ?"
			args = append(args, img[i].V)
		}
		return "(" + strings.Join(conds, " AND ") + ")"
	}
	var b strings.Builder
	b.WriteString("SELECT CASE")
	for n := start; n < end; n++ {
		fmt.Fprintf(&b, " WHEN %s THEN %d", keyCond(ps[idx[n]]), n)
	}
	b.WriteString(" END, CASE")
	for n := start; n < end; n++ {
		fmt.Fprintf(&b, " WHEN %s THEN %s", keyCond(ps[idx[n]]), same(ps[idx[n]].before))
	}
	b.WriteString(" END, CASE")
	for n := start; n < end; n++ {
		fmt.Fprintf(&b, " WHEN %s THEN %s", keyCond(ps[idx[n]]), same(ps[idx[n]].after))
	}
	fmt.Fprintf(&b, " END FROM %s WHERE ", tableName(tb))
	for n := start; n < end; n++ {
		if n > start {
			b.WriteString(" OR ")
		}
		b.WriteString(keyCond(ps[idx[n]]))
	}
	b.WriteString(" FOR UPDATE")
	return b.String(), args
}
