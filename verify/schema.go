package verify

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/config"
)

// querier is what verify needs of a connection: *sql.Conn and *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// schema is one table's columns and primary key.
type schema struct {
	db, table string
	cols      []string
	// generated: the server computes the column (a repair writes the
	// others only).
	generated []bool
	pk        []int // indexes into cols, in key order
	// rowKey: the table has no primary key; every column is its key, and
	// equal rows may repeat (compared as a multiset, in one chunk).
	rowKey bool
	// scope is Config.Scope's condition for the table ("": every row).
	scope string
}

// name is "db.table".
func (s *schema) name() string { return s.db + "." + s.table }

// quoted is `db`.`table`.
func (s *schema) quoted() string { return quote(s.db) + "." + quote(s.table) }

// pkCols are the primary key's column names.
func (s *schema) pkCols() []string {
	out := make([]string, len(s.pk))
	for i, p := range s.pk {
		out[i] = s.cols[p]
	}
	return out
}

// isGenerated reports whether column i is generated.
func (s *schema) isGenerated(i int) bool { return i < len(s.generated) && s.generated[i] }

// generatedCols are the generated columns' names.
func generatedCols(s *schema) []string {
	var out []string
	for i, c := range s.cols {
		if s.isGenerated(i) {
			out = append(out, c)
		}
	}
	return out
}

// quote quotes an identifier with backticks.
func quote(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

// splitName splits "db.table".
func splitName(name string) (db, table string, err error) {
	db, table, ok := strings.Cut(name, ".")
	if !ok || db == "" || table == "" || strings.Contains(table, ".") {
		return "", "", fmt.Errorf("table %q: write it as db.table, e.g. lending.users", name)
	}
	return db, table, nil
}

// loadSchema reads a table's columns and primary key. A table without a
// primary key is keyed by all its columns (rowKey).
func loadSchema(ctx context.Context, q querier, name string) (*schema, error) {
	db, table, err := splitName(name)
	if err != nil {
		return nil, err
	}
	s := &schema{db: db, table: table}
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, table)
	if err != nil {
		return nil, fmt.Errorf("table %s: read columns: %w", name, err)
	}
	for rows.Next() {
		var c, extra string
		if err := rows.Scan(&c, &extra); err != nil {
			rows.Close()
			return nil, fmt.Errorf("table %s: read columns: %w", name, err)
		}
		s.cols = append(s.cols, c)
		s.generated = append(s.generated, catalog.IsGenerated(extra))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table %s: read columns: %w", name, err)
	}
	if len(s.cols) == 0 {
		return nil, fmt.Errorf("table %s does not exist", name)
	}
	rows, err = q.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, db, table)
	if err != nil {
		return nil, fmt.Errorf("table %s: read primary key: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("table %s: read primary key: %w", name, err)
		}
		s.pk = append(s.pk, slices.Index(s.cols, c))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table %s: read primary key: %w", name, err)
	}
	if len(s.pk) == 0 {
		s.rowKey = true
		for i := range s.cols {
			s.pk = append(s.pk, i)
		}
	}
	return s, nil
}

// ReplicatedTables lists the tables ("db.table", sorted) that the
// deployment replicates and any of the regions holds: every table of the
// replicated databases that the replication filter keeps. A table only
// some regions hold is listed, so that Compare reports it missing. The
// platform's own schema (_region) and system schemas are never listed.
func ReplicatedTables(ctx context.Context, regions []Region, r config.Replication) ([]string, error) {
	f := binlog.NewFilter(r)
	var out []string
	for _, reg := range regions {
		rows, err := reg.DB.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
			WHERE TABLE_TYPE = 'BASE TABLE'`)
		if err != nil {
			return nil, fmt.Errorf("verify: region %s: list tables: %w", reg.Name, err)
		}
		for rows.Next() {
			var d, t string
			if err := rows.Scan(&d, &t); err != nil {
				rows.Close()
				return nil, fmt.Errorf("verify: region %s: list tables: %w", reg.Name, err)
			}
			if f.Table(d, t) {
				out = append(out, d+"."+t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("verify: region %s: list tables: %w", reg.Name, err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
