package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// A secondary unique key is part of a row's identity: the applier never
// lets a row change rewrite another row that holds the same unique value
// (an upsert's ON DUPLICATE KEY UPDATE would, silently). A table with
// unique keys besides its primary key is applied row by row, and a row
// whose unique value another row holds in the target is a conflict: it
// is logged with both rows and halts the partition, whatever the table's
// policy (which row should stand is an operator's decision until the
// policies learn to converge on unique keys).

// collision finds a target row other than img's (by primary key) that
// holds one of img's unique values; it returns the key's name, the
// other row as JSON and its key, or "" when there is none. A unique
// value with a NULL in it collides with nothing. before is the row's
// image before an update (nil for an insert): an update that moves the
// row to another primary key keeps its unique values, and the row at
// the old key is the row itself, deleted first (plan), not another.
func collision(ctx context.Context, tx *sql.Tx, tb *event.Table, uks []catalog.Key, before, img []event.Value) (key, other, otherPK string, err error) {
	pairs := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		pairs[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'," + quote(c)
	}
	pkCols := make([]string, len(tb.PK))
	for i, p := range tb.PK {
		pkCols[i] = quote(tb.Cols[p])
	}
	where, pkArgs := pkWhere(tb, img)
	itself := "NOT (" + where + ")"
	if before != nil && tb.KeyChanged(before, img) {
		w, a := pkWhere(tb, before)
		itself, pkArgs = itself+" AND NOT ("+w+")", append(pkArgs, a...)
	}
next:
	for _, k := range uks {
		conds := make([]string, len(k.Cols))
		args := make([]any, 0, len(k.Cols)+len(pkArgs))
		for i, c := range k.Cols {
			ci := tb.ColIndex(c)
			if ci < 0 || img[ci].V == nil {
				continue next // a column the source does not send, or NULL: no collision
			}
			conds[i] = quote(c) + " = ?"
			args = append(args, img[ci].V)
		}
		args = append(args, pkArgs...)
		var js, pk sql.NullString
		q := fmt.Sprintf("SELECT JSON_OBJECT(%s), CONCAT_WS(',', %s) FROM %s WHERE %s AND %s LIMIT 1 FOR UPDATE",
			strings.Join(pairs, ","), strings.Join(pkCols, ","), tableName(tb), strings.Join(conds, " AND "), itself)
		switch err := tx.QueryRowContext(ctx, q, args...).Scan(&js, &pk); {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return "", "", "", fmt.Errorf("check unique key %s of %s.%s: %w", k.Name, tb.Schema, tb.Name, err)
		}
		return k.Name, js.String, pk.String, nil
	}
	return "", "", "", nil
}
