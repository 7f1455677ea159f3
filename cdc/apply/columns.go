package apply

import (
	"context"
	"strings"

	"github.com/regionplatform/region/cdc/event"
)

// forTarget returns t as the target takes it:
//
//   - without the values of its generated columns: it computes them from
//     the others, and refuses a value written to one;
//   - without the values of columns this region dropped on purpose
//     (catalog.Columns): another region wrote them before the drop reached
//     it, and drops them too when it does;
//   - with the strings of columns whose character set is not UTF-8 as
//     bytes (catalog.Columns): sent as strings, the connection would
//     convert them from UTF-8.
//
// A column the target lacks for any other reason stays, and strict apply
// halts on it; so does a generated column in the primary key, which the
// applier needs to find the row.
func (a *Applier) forTarget(ctx context.Context, t *event.Txn) (*event.Txn, error) {
	out := t
	own := func() {
		if out == t {
			cp := *t
			cp.Tables = append([]event.Table(nil), t.Tables...)
			cp.Rows = append([]event.Row(nil), t.Rows...)
			out = &cp
		}
	}
	for i := range t.Tables {
		tb := &t.Tables[i]
		cs, err := a.catalog.Columns(ctx, tb.Schema, tb.Name)
		if err != nil || len(cs.All) == 0 {
			return t, err // a missing table: strict apply explains it
		}
		cols, notUTF8 := cs.All, cs.NotUTF8
		computed := func(j int) bool { return cs.Generated[strings.ToLower(tb.Cols[j])] && !isKey(tb, j) }
		gone, skip, asBytes := false, false, false
		for j, c := range tb.Cols {
			gone = gone || !cols[strings.ToLower(c)]
			skip = skip || computed(j)
			asBytes = asBytes || notUTF8[strings.ToLower(c)]
		}
		if asBytes {
			own()
			for k, r := range out.Rows {
				if r.T == i {
					out.Rows[k].Before, out.Rows[k].After = stringsAsBytes(tb, r.Before, notUTF8), stringsAsBytes(tb, r.After, notUTF8)
				}
			}
		}
		if !gone && !skip {
			continue
		}
		keep := make([]int, 0, len(tb.Cols))
		names := []string{}
		for j, c := range tb.Cols {
			switch {
			case computed(j):
			case cols[strings.ToLower(c)]:
				keep = append(keep, j)
			case cs.Dropped[strings.ToLower(c)] && !isKey(tb, j):
				names = append(names, c)
			default:
				return t, nil // not dropped here (or a key column): strict apply halts
			}
		}
		own()
		out.Tables[i] = project(tb, keep)
		for k, r := range out.Rows {
			if r.T == i {
				out.Rows[k].Before, out.Rows[k].After = pick(r.Before, keep), pick(r.After, keep)
			}
		}
		if len(names) > 0 {
			a.log.Info("leaving out values of columns this region dropped", "table", tb.Schema+"."+tb.Name, "columns", names, "gtid", t.GTID)
		}
	}
	return out, nil
}

// stringsAsBytes is img with the strings of the columns in notUTF8 as
// bytes (a copy; nil for no image).
func stringsAsBytes(tb *event.Table, img []event.Value, notUTF8 map[string]bool) []event.Value {
	if img == nil {
		return nil
	}
	out := append([]event.Value(nil), img...)
	for j, c := range tb.Cols {
		if s, ok := out[j].V.(string); ok && notUTF8[strings.ToLower(c)] {
			out[j].V = []byte(s)
		}
	}
	return out
}

func isKey(tb *event.Table, col int) bool {
	for _, p := range tb.PK {
		if p == col {
			return true
		}
	}
	return false
}

// project is tb with only the columns keep (indexes into tb.Cols).
func project(tb *event.Table, keep []int) event.Table {
	out := event.Table{Schema: tb.Schema, Name: tb.Name}
	at := map[int]int{}
	for n, j := range keep {
		at[j] = n
		out.Cols = append(out.Cols, tb.Cols[j])
		out.Types = append(out.Types, tb.Types[j])
	}
	for _, p := range tb.PK {
		out.PK = append(out.PK, at[p])
	}
	return out
}

func pick(img []event.Value, keep []int) []event.Value {
	if img == nil {
		return nil
	}
	out := make([]event.Value, len(keep))
	for n, j := range keep {
		out[n] = img[j]
	}
	return out
}
