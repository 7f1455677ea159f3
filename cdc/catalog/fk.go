package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/event"
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

// FiredBy reports whether row r of tb (fk's parent table) sets off fk's
// action: a delete with an ON DELETE action, an update of the referenced
// columns with an ON UPDATE action. A referenced column the row does not
// carry counts as changed.
func (fk FK) FiredBy(tb *event.Table, r event.Row) bool {
	switch r.Op {
	case event.Delete:
		return fk.OnDelete.Changes()
	case event.Update:
		if !fk.OnUpdate.Changes() {
			return false
		}
		for _, name := range fk.RefCols {
			j := tb.ColIndex(name)
			if j < 0 || j >= len(r.Before) || j >= len(r.After) || !r.Before[j].Equal(r.After[j]) {
				return true
			}
		}
	}
	return false
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
// Forget). information_schema finds the keys that reference a table only
// by reading every table's definition (0.1-0.25 s on a MariaDB of 3,000
// tables, in the way of every transaction capture publishes meanwhile),
// so MariaDB's InnoDB dictionary is read instead where the account may
// (the PROCESS privilege: 0.01 s for the same server).
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
	all, err := innodbForeignKeys(ctx, db)
	if err != nil {
		if all, err = schemaForeignKeys(ctx, db); err != nil {
			return nil, err
		}
	}
	g := &fkGraph{read: time.Now(), of: map[tableName][]FK{}, from: map[tableName][]FK{}}
	for _, f := range all {
		child, parent := tableName{f.Schema, f.Table}, tableName{f.RefSchema, f.RefTable}
		g.of[child] = append(g.of[child], f)
		g.from[parent] = append(g.from[parent], f)
	}
	return g, nil
}

// schemaForeignKeys reads the foreign keys from information_schema.
func schemaForeignKeys(ctx context.Context, db *sql.DB) ([]FK, error) {
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
		f.OnDelete, f.OnUpdate = Action(del), Action(upd)
		all = addColumn(all, f, col, ref)
	}
	return all, rows.Err()
}

// addColumn appends f's column col (referencing ref) to the last key of
// all when it is f, or f with it.
func addColumn(all []FK, f FK, col, ref string) []FK {
	if n := len(all); n > 0 && all[n-1].Schema == f.Schema && all[n-1].Table == f.Table && all[n-1].Name == f.Name {
		all[n-1].Cols = append(all[n-1].Cols, col)
		all[n-1].RefCols = append(all[n-1].RefCols, ref)
		return all
	}
	f.Cols, f.RefCols = []string{col}, []string{ref}
	return append(all, f)
}

// innodbForeignKeys reads the foreign keys from MariaDB's InnoDB
// dictionary (INNODB_SYS_FOREIGN: names as "db/name" in the server's
// file name encoding, the actions as bits of TYPE). An error (MySQL, no
// PROCESS privilege, a name it cannot decode) sends the caller to
// information_schema.
func innodbForeignKeys(ctx context.Context, db *sql.DB) ([]FK, error) {
	rows, err := db.QueryContext(ctx, `SELECT f.ID, f.FOR_NAME, f.REF_NAME, f.TYPE, c.FOR_COL_NAME, c.REF_COL_NAME
		FROM information_schema.INNODB_SYS_FOREIGN f JOIN information_schema.INNODB_SYS_FOREIGN_COLS c ON c.ID = f.ID
		ORDER BY f.FOR_NAME, f.ID, c.POS`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []FK
	for rows.Next() {
		var id, child, parent, col, ref string
		var typ uint32
		if err := rows.Scan(&id, &child, &parent, &typ, &col, &ref); err != nil {
			return nil, err
		}
		var f FK
		var ok [3]bool
		_, f.Name, ok[0] = splitName(id)
		f.Schema, f.Table, ok[1] = splitName(child)
		f.RefSchema, f.RefTable, ok[2] = splitName(parent)
		if ok != [3]bool{true, true, true} {
			return nil, fmt.Errorf("a foreign key name InnoDB's dictionary encodes: %s", id)
		}
		f.OnDelete, f.OnUpdate = innodbActions(typ)
		all = addColumn(all, f, col, ref)
	}
	return all, rows.Err()
}

// innodbActions decodes INNODB_SYS_FOREIGN.TYPE (dict0mem.h's
// DICT_FOREIGN_ON_* bits: 1, 2, 16 for ON DELETE CASCADE, SET NULL, NO
// ACTION; 4, 8, 32 for ON UPDATE).
func innodbActions(typ uint32) (onDelete, onUpdate Action) {
	return innodbAction(typ, 1, 2, 16), innodbAction(typ, 4, 8, 32)
}

func innodbAction(typ, cascade, setNull, noAction uint32) Action {
	switch {
	case typ&cascade != 0:
		return Cascade
	case typ&setNull != 0:
		return SetNull
	case typ&noAction != 0:
		return "NO ACTION"
	}
	return "RESTRICT"
}

// splitName splits "db/name"; false when either part is in the file name
// encoding (a character other than a letter, digit, _ or $).
func splitName(s string) (db, name string, ok bool) {
	db, name, ok = strings.Cut(s, "/")
	return db, name, ok && !strings.Contains(s, "@")
}
