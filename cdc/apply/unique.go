package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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

// uniqueTTL is how long the applier trusts what it read of a table's
// unique keys (a schema change in the target may add or drop one).
const uniqueTTL = 10 * time.Second

// uniqueKeys caches, per table, the secondary unique keys of the target.
type uniqueKeys struct {
	mu     sync.Mutex
	tables map[string]uniqueEntry
}

type uniqueEntry struct {
	read time.Time
	keys []uniqueKey
}

// uniqueKey is one secondary unique index, by column name.
type uniqueKey struct {
	name string
	cols []string
}

// of returns the secondary unique keys of tb in the target.
func (u *uniqueKeys) of(ctx context.Context, db *sql.DB, tb *event.Table) ([]uniqueKey, error) {
	name := tb.Schema + "." + tb.Name
	u.mu.Lock()
	e, ok := u.tables[name]
	u.mu.Unlock()
	if ok && time.Since(e.read) < uniqueTTL {
		return e.keys, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`, tb.Schema, tb.Name)
	if err != nil {
		return nil, fmt.Errorf("read the unique keys of %s: %w", name, err)
	}
	defer rows.Close()
	var keys []uniqueKey
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return nil, err
		}
		if len(keys) == 0 || keys[len(keys)-1].name != idx {
			keys = append(keys, uniqueKey{name: idx})
		}
		keys[len(keys)-1].cols = append(keys[len(keys)-1].cols, col)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	u.mu.Lock()
	if u.tables == nil {
		u.tables = map[string]uniqueEntry{}
	}
	u.tables[name] = uniqueEntry{read: time.Now(), keys: keys}
	u.mu.Unlock()
	return keys, nil
}

// collision finds a target row other than img's (by primary key) that
// holds one of img's unique values; it returns the key's name, the
// other row as JSON and its key, or "" when there is none. A unique
// value with a NULL in it collides with nothing.
func collision(ctx context.Context, tx *sql.Tx, tb *event.Table, keys []uniqueKey, img []event.Value) (key, other, otherPK string, err error) {
	pairs := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		pairs[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'," + quote(c)
	}
	pkCols := make([]string, len(tb.PK))
	for i, p := range tb.PK {
		pkCols[i] = quote(tb.Cols[p])
	}
	pkWhereSQL, pkArgs := pkWhere(tb, img)
next:
	for _, k := range keys {
		conds := make([]string, len(k.cols))
		args := make([]any, 0, len(k.cols)+len(pkArgs))
		for i, c := range k.cols {
			ci := colIndex(tb, c)
			if ci < 0 || img[ci].V == nil {
				continue next // a column the source does not send, or NULL: no collision
			}
			conds[i] = quote(c) + " = ?"
			args = append(args, img[ci].V)
		}
		args = append(args, pkArgs...)
		var js, pk sql.NullString
		q := fmt.Sprintf("SELECT JSON_OBJECT(%s), CONCAT_WS(',', %s) FROM %s WHERE %s AND NOT (%s) LIMIT 1 FOR UPDATE",
			strings.Join(pairs, ","), strings.Join(pkCols, ","), tableName(tb), strings.Join(conds, " AND "), pkWhereSQL)
		switch err := tx.QueryRowContext(ctx, q, args...).Scan(&js, &pk); {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return "", "", "", fmt.Errorf("check unique key %s of %s.%s: %w", k.name, tb.Schema, tb.Name, err)
		}
		return k.name, js.String, pk.String, nil
	}
	return "", "", "", nil
}
