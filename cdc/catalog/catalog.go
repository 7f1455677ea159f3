// Package catalog reads what replication needs to know of a MySQL
// table from information_schema, with a short cache: its secondary
// unique keys, its foreign keys and its triggers. Capture needs the
// unique and foreign keys to compute a transaction's writeset (two rows
// with the same unique value depend on each other as two writes of one
// row do, and so do a child row and the parent it references); the
// applier needs the target's unique keys to refuse an upsert that would
// rewrite another row, its foreign keys to repeat their ON DELETE and ON
// UPDATE actions, which the binlog does not carry, and its triggers to
// refuse running one a second time.
//
//	c := &catalog.Cache{DB: db}
//	ks, err := c.UniqueKeys(ctx, "lending", "users") // [{uq_email [email]}]
package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Key is one secondary unique index, by column name in index order.
type Key struct {
	Name string
	Cols []string
}

// ApplyVar is the session variable an applier's connection sets (to 1).
// A row the applier writes already carries every effect the source's
// triggers had (they are in the same source transaction, and arrive
// too), so a trigger must not act again on it: its body is guarded with
//
//	IF @region_apply IS NULL THEN ... END IF;
//
// A trigger whose body does not mention ApplyVar is unguarded.
const ApplyVar = "@region_apply"

// Trigger is a trigger on a table.
type Trigger struct {
	Name string
	// Guarded: the body tests ApplyVar.
	Guarded bool
}

// DefaultTTL is how long a Cache trusts what it read of a table (a schema
// change may add or drop a key or a trigger).
const DefaultTTL = 10 * time.Second

// Cache reads and caches what it knows of tables in DB. The zero TTL
// means DefaultTTL. It is safe for concurrent use.
type Cache struct {
	DB  *sql.DB
	TTL time.Duration

	mu     sync.Mutex
	tables map[string]entry
	fks    *fkGraph
}

type entry struct {
	read     time.Time
	keys     []Key
	triggers []Trigger
	cols     Columns
}

// UniqueKeys returns the secondary unique keys of schema.table (none when
// the table has none, or does not exist).
func (c *Cache) UniqueKeys(ctx context.Context, schema, table string) ([]Key, error) {
	e, err := c.table(ctx, schema, table)
	return e.keys, err
}

// Triggers returns the triggers on schema.table.
func (c *Cache) Triggers(ctx context.Context, schema, table string) ([]Trigger, error) {
	e, err := c.table(ctx, schema, table)
	return e.triggers, err
}

// Columns is what a Cache knows of a table's columns, by lower-case
// name.
type Columns struct {
	// All are the table's columns.
	All map[string]bool
	// Generated: the server computes them, and refuses a value written to
	// one.
	Generated map[string]bool
	// NotUTF8 are the string columns whose character set is not UTF-8 (nor
	// ASCII): their values are bytes in that character set, which a client
	// must send as bytes (a latin1 'Ã©' is C3 A9, which sent as a UTF-8
	// string would be stored as 'é').
	NotUTF8 map[string]bool
	// Dropped are columns this region dropped and no longer has
	// (DroppedTable).
	Dropped map[string]bool
}

// Columns returns what it knows of schema.table's columns (none when the
// table does not exist).
func (c *Cache) Columns(ctx context.Context, schema, table string) (Columns, error) {
	e, err := c.table(ctx, schema, table)
	return e.cols, err
}

// IsGenerated reports whether information_schema.COLUMNS.EXTRA describes
// a generated column: "VIRTUAL GENERATED" or "STORED GENERATED" (MySQL 8,
// MariaDB), "VIRTUAL" or "PERSISTENT" (older MariaDB); not MySQL 8's
// "DEFAULT_GENERATED", a column with an expression as its default.
func IsGenerated(extra string) bool {
	x := strings.ToUpper(extra)
	return strings.Contains(x, "VIRTUAL") || strings.Contains(x, "STORED GENERATED") || strings.Contains(x, "PERSISTENT")
}

// Forget drops everything cached: the next call reads again (after a
// schema change).
func (c *Cache) Forget() {
	c.mu.Lock()
	c.tables, c.fks = nil, nil
	c.mu.Unlock()
}

func (c *Cache) table(ctx context.Context, schema, table string) (entry, error) {
	name := schema + "." + table
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	e, ok := c.tables[name]
	c.mu.Unlock()
	if ok && time.Since(e.read) < ttl {
		return e, nil
	}
	e = entry{read: time.Now()}
	var err error
	if e.keys, err = uniqueKeys(ctx, c.DB, schema, table); err != nil {
		return e, fmt.Errorf("read the unique keys of %s: %w", name, err)
	}
	if e.triggers, err = triggers(ctx, c.DB, schema, table); err != nil {
		return e, fmt.Errorf("read the triggers of %s: %w", name, err)
	}
	if e.cols, err = columns(ctx, c.DB, schema, table); err != nil {
		return e, fmt.Errorf("read the columns of %s: %w", name, err)
	}
	c.mu.Lock()
	if c.tables == nil {
		c.tables = map[string]entry{}
	}
	c.tables[name] = e
	c.mu.Unlock()
	return e, nil
}

func uniqueKeys(ctx context.Context, db *sql.DB, schema, table string) ([]Key, error) {
	rows, err := db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return nil, err
		}
		if len(keys) == 0 || keys[len(keys)-1].Name != idx {
			keys = append(keys, Key{Name: idx})
		}
		keys[len(keys)-1].Cols = append(keys[len(keys)-1].Cols, col)
	}
	return keys, rows.Err()
}

func triggers(ctx context.Context, db *sql.DB, schema, table string) ([]Trigger, error) {
	rows, err := db.QueryContext(ctx, `SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS
		WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME`, schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Trigger
	for rows.Next() {
		var name, body string
		if err := rows.Scan(&name, &body); err != nil {
			return nil, err
		}
		out = append(out, Trigger{Name: name, Guarded: strings.Contains(strings.ToLower(body), ApplyVar)})
	}
	return out, rows.Err()
}

func columns(ctx context.Context, db *sql.DB, schema, table string) (Columns, error) {
	cs := Columns{All: map[string]bool{}, Generated: map[string]bool{}, NotUTF8: map[string]bool{}, Dropped: map[string]bool{}}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, EXTRA, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table)
	if err != nil {
		return cs, err
	}
	defer rows.Close()
	for rows.Next() {
		var c, extra, charset string
		if err := rows.Scan(&c, &extra, &charset); err != nil {
			return cs, err
		}
		c = strings.ToLower(c)
		cs.All[c] = true
		if IsGenerated(extra) {
			cs.Generated[c] = true
		}
		switch strings.ToLower(charset) {
		case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
		default:
			cs.NotUTF8[c] = true
		}
	}
	if err := rows.Err(); err != nil {
		return cs, err
	}
	var exists int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_region' AND TABLE_NAME = 'dropped_columns'`).Scan(&exists); err != nil || exists == 0 {
		return cs, err
	}
	err = each(ctx, db, `SELECT col FROM `+DroppedTable+` WHERE db = ? AND tbl = ?`, func(c string) {
		if !cs.All[strings.ToLower(c)] {
			cs.Dropped[strings.ToLower(c)] = true
		}
	}, schema, table)
	return cs, err
}

func each(ctx context.Context, db *sql.DB, q string, fn func(string), args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		fn(s)
	}
	return rows.Err()
}
