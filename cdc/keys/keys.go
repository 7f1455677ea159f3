// Package keys reads a MySQL table's secondary unique keys from
// information_schema, with a short cache. Capture needs them to compute
// a transaction's writeset (two rows with the same unique value depend on
// each other as two writes of one row do); the applier needs the
// target's to refuse an upsert that would rewrite another row.
//
//	c := &keys.Cache{DB: db}
//	ks, err := c.Of(ctx, "lending", "users") // [{uq_email [email]}]
package keys

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// Key is one secondary unique index, by column name in index order.
type Key struct {
	Name string
	Cols []string
}

// DefaultTTL is how long a Cache trusts what it read of a table (a schema
// change may add or drop a key).
const DefaultTTL = 10 * time.Second

// Cache reads and caches the unique keys of tables in DB. The zero TTL
// means DefaultTTL. It is safe for concurrent use.
type Cache struct {
	DB  *sql.DB
	TTL time.Duration

	mu     sync.Mutex
	tables map[string]entry
}

type entry struct {
	read time.Time
	keys []Key
}

// Of returns the secondary unique keys of schema.table (none when the
// table has none, or does not exist).
func (c *Cache) Of(ctx context.Context, schema, table string) ([]Key, error) {
	name := schema + "." + table
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	e, ok := c.tables[name]
	c.mu.Unlock()
	if ok && time.Since(e.read) < ttl {
		return e.keys, nil
	}
	rows, err := c.DB.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read the unique keys of %s: %w", name, err)
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return nil, fmt.Errorf("read the unique keys of %s: %w", name, err)
		}
		if len(keys) == 0 || keys[len(keys)-1].Name != idx {
			keys = append(keys, Key{Name: idx})
		}
		keys[len(keys)-1].Cols = append(keys[len(keys)-1].Cols, col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the unique keys of %s: %w", name, err)
	}
	c.mu.Lock()
	if c.tables == nil {
		c.tables = map[string]entry{}
	}
	c.tables[name] = entry{read: time.Now(), keys: keys}
	c.mu.Unlock()
	return keys, nil
}

// Forget drops everything cached: the next Of reads again (after a
// schema change).
func (c *Cache) Forget() {
	c.mu.Lock()
	c.tables = nil
	c.mu.Unlock()
}
