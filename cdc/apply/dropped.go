package apply

import (
	"context"
	"strings"

	"github.com/regionplatform/region/cdc/event"
)

// withoutDropped returns t without the values of columns this region
// dropped on purpose (catalog.Dropped): another region wrote them before
// the drop reached it, and drops them too when it does. A column the
// target lacks for any other reason stays, and strict apply halts on it.
func (a *Applier) withoutDropped(ctx context.Context, t *event.Txn) (*event.Txn, error) {
	out := t
	for i := range t.Tables {
		tb := &t.Tables[i]
		cols, err := a.catalog.Columns(ctx, tb.Schema, tb.Name)
		if err != nil || len(cols) == 0 {
			return t, err // a missing table: strict apply explains it
		}
		var gone []int
		for j, c := range tb.Cols {
			if !cols[strings.ToLower(c)] {
				gone = append(gone, j)
			}
		}
		if len(gone) == 0 {
			continue
		}
		dropped, err := a.catalog.Dropped(ctx, tb.Schema, tb.Name)
		if err != nil {
			return t, err
		}
		keep := make([]int, 0, len(tb.Cols))
		names := []string{}
		for j, c := range tb.Cols {
			switch {
			case cols[strings.ToLower(c)]:
				keep = append(keep, j)
			case dropped[strings.ToLower(c)] && !isKey(tb, j):
				names = append(names, c)
			default:
				return t, nil // not dropped here (or a key column): strict apply halts
			}
		}
		if out == t {
			cp := *t
			cp.Tables = append([]event.Table(nil), t.Tables...)
			cp.Rows = append([]event.Row(nil), t.Rows...)
			out = &cp
		}
		out.Tables[i] = project(tb, keep)
		for k, r := range out.Rows {
			if r.T == i {
				out.Rows[k].Before, out.Rows[k].After = pick(r.Before, keep), pick(r.After, keep)
			}
		}
		a.log.Info("leaving out values of columns this region dropped", "table", tb.Schema+"."+tb.Name, "columns", names, "gtid", t.GTID)
	}
	return out, nil
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
