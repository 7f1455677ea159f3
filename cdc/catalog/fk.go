package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Action is what MySQL does to a child row when its parent row is
// deleted or its referenced columns change: "CASCADE", "SET NULL",
// "RESTRICT", "NO ACTION" or "SET DEFAULT" (as information_schema names
// them).
type Action string

// The actions that change child rows. MySQL does not write those
// changes to the binlog: InnoDB makes them inside the parent's
// statement, and a native replica makes them again because it applies
// with foreign key checks on.
const (
	Cascade Action = "CASCADE"
	SetNull Action = "SET NULL"
)

// Changes reports whether the action changes child rows.
func (a Action) Changes() bool { return a == Cascade || a == SetNull }

// FK is a foreign key: Cols of Schema.Table (the child) reference RefCols
// of RefSchema.RefTable (the parent), in order.
type FK struct {
	Name                string
	Schema, Table       string
	Cols                []string
	RefSchema, RefTable string
	RefCols             []string
	OnDelete, OnUpdate  Action
}

// fkGraph is every foreign key of the server, by child and by parent.
type fkGraph struct {
	read     time.Time
	of, from map[tableName][]FK
}

type tableName struct{ schema, table string }

// ForeignKeys returns the foreign keys of schema.table (of: it is the
// child) and those that reference it (to: it is the parent). The server's
// foreign keys are read in one query and cached like the rest (TTL,
// Forget): information_schema finds the keys that reference a table only
// by reading every table's definition.
func (c *Cache) ForeignKeys(ctx context.Context, schema, table string) (of, to []FK, err error) {
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	g := c.fks
	c.mu.Unlock()
	if g == nil || time.Since(g.read) >= ttl {
		if g, err = readForeignKeys(ctx, c.DB); err != nil {
			return nil, nil, fmt.Errorf("read the foreign keys: %w", err)
		}
		c.mu.Lock()
		c.fks = g
		c.mu.Unlock()
	}
	name := tableName{schema, table}
	return g.of[name], g.from[name], nil
}

func readForeignKeys(ctx context.Context, db *sql.DB) (*fkGraph, error) {
	g := &fkGraph{read: time.Now(), of: map[tableName][]FK{}, from: map[tableName][]FK{}}
	rows, err := db.QueryContext(ctx, `SELECT rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.UNIQUE_CONSTRAINT_SCHEMA, rc.REFERENCED_TABLE_NAME,
			rc.DELETE_RULE, rc.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k
			ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME
		WHERE k.REFERENCED_COLUMN_NAME IS NOT NULL
		ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []FK
	for rows.Next() {
		var f FK
		var del, upd, col, ref string
		if err := rows.Scan(&f.Schema, &f.Table, &f.Name, &f.RefSchema, &f.RefTable, &del, &upd, &col, &ref); err != nil {
			return nil, err
		}
		if n := len(all); n > 0 && all[n-1].Schema == f.Schema && all[n-1].Table == f.Table && all[n-1].Name == f.Name {
			all[n-1].Cols = append(all[n-1].Cols, col)
			all[n-1].RefCols = append(all[n-1].RefCols, ref)
			continue
		}
		f.OnDelete, f.OnUpdate, f.Cols, f.RefCols = Action(del), Action(upd), []string{col}, []string{ref}
		all = append(all, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, f := range all {
		child, parent := tableName{f.Schema, f.Table}, tableName{f.RefSchema, f.RefTable}
		g.of[child] = append(g.of[child], f)
		g.from[parent] = append(g.from[parent], f)
	}
	return g, nil
}
