package apply

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/event"
)

// probeChunk bounds the keys one probe query reads.
const probeChunk = 100

// state is what the target holds for a probe's key.
type state struct {
	exists, sameBefore, sameAfter bool
}

// readStates reads, with one locking query per table and chunk, whether
// the target holds each probe's key and whether that row equals the
// probe's before and after images (compared by MySQL itself, NULL-safe,
// so values convert as the server converts them).
func readStates(ctx context.Context, tx *sql.Tx, ps []*probe) ([]state, error) {
	out := make([]state, len(ps))
	var tables []*event.Table
	byTable := map[*event.Table][]int{}
	for i, p := range ps {
		if _, ok := byTable[p.tb]; !ok {
			tables = append(tables, p.tb)
		}
		byTable[p.tb] = append(byTable[p.tb], i)
	}
	for _, tb := range tables {
		idx := byTable[tb]
		for len(idx) > 0 {
			n := min(len(idx), probeChunk)
			if err := readChunk(ctx, tx, tb, ps, idx[:n], out); err != nil {
				return nil, err
			}
			idx = idx[n:]
		}
	}
	return out, nil
}

func readChunk(ctx context.Context, tx *sql.Tx, tb *event.Table, ps []*probe, idx []int, out []state) error {
	q, args := probeQuery(tb, ps, idx)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read the target rows of %s.%s: %w", tb.Schema, tb.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var sb, sa sql.NullBool
		if err := rows.Scan(&i, &sb, &sa); err != nil {
			return fmt.Errorf("read the target rows of %s.%s: %w", tb.Schema, tb.Name, err)
		}
		if i < 0 || i >= len(idx) {
			return fmt.Errorf("read the target rows of %s.%s: row %d matches no key asked for", tb.Schema, tb.Name, i)
		}
		out[idx[i]] = state{exists: true, sameBefore: sb.Bool, sameAfter: sa.Bool}
	}
	return rows.Err()
}

// probeQuery builds
//
//	SELECT CASE WHEN <key 0> THEN 0 ... END,
//	       CASE WHEN <key 0> THEN <row = before 0> ... END,
//	       CASE WHEN <key 0> THEN <row = after 0> ... END
//	FROM t WHERE <key 0> OR <key 1> ... FOR UPDATE
//
// for the probes ps[idx...] of table tb.
func probeQuery(tb *event.Table, ps []*probe, idx []int) (string, []any) {
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
	for n, i := range idx {
		fmt.Fprintf(&b, " WHEN %s THEN %d", keyCond(ps[i]), n)
	}
	b.WriteString(" END, CASE")
	for _, i := range idx {
		fmt.Fprintf(&b, " WHEN %s THEN %s", keyCond(ps[i]), same(ps[i].before))
	}
	b.WriteString(" END, CASE")
	for _, i := range idx {
		fmt.Fprintf(&b, " WHEN %s THEN %s", keyCond(ps[i]), same(ps[i].after))
	}
	fmt.Fprintf(&b, " END FROM %s WHERE ", tableName(tb))
	for n, i := range idx {
		if n > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(keyCond(ps[i]))
	}
	b.WriteString(" FOR UPDATE")
	return b.String(), args
}
