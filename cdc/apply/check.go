package apply

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/config"
)

// CheckTables reads the replicated tables of db and returns one problem
// per table this applier could not replicate, each with its fix; regiond
// refuses to start on any, and regionctl config check --schema prints
// them: a table without a primary key whose conflict policy needs one to
// find the row (every policy but overwrite), a table whose policy orders
// changes by a version column it does not have, and a trigger whose body
// does not skip the applier's writes (catalog.ApplyVar).
func CheckTables(ctx context.Context, db *sql.DB, rep config.Replication) ([]string, error) {
	if len(rep.Databases) == 0 {
		return nil, nil
	}
	policies := map[string]string{}
	for _, t := range rep.Tables {
		policies[t.Name] = t.Conflict
	}
	def := cmp.Or(rep.DefaultConflict, config.ConflictReject)
	marks := strings.TrimSuffix(strings.Repeat("?,", len(rep.Databases)), ",")
	args := make([]any, len(rep.Databases))
	for i, d := range rep.Databases {
		args[i] = d
	}
	rows, err := db.QueryContext(ctx, `SELECT t.TABLE_SCHEMA, t.TABLE_NAME FROM information_schema.TABLES t
		WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA IN (`+marks+`) AND NOT EXISTS (
			SELECT 1 FROM information_schema.STATISTICS s
			WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY')
		ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("apply: read the replicated tables: %w", err)
	}
	defer rows.Close()
	filter := binlog.NewFilter(rep)
	var problems []string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return nil, fmt.Errorf("apply: read the replicated tables: %w", err)
		}
		name := schema + "." + table
		p, listed := policies[name]
		if !listed {
			p = def
		}
		if !filter.Table(schema, table) || p == config.ConflictOverwrite {
			continue
		}
		where := "replication.tables"
		if !listed {
			where = "replication.default_conflict"
		}
		problems = append(problems, fmt.Sprintf("%s has no primary key, and its conflict policy %s (%s) needs one to find the row: add a primary key, list the table with conflict: overwrite, or leave it out (replication.exclude)", name, p, where))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("apply: read the replicated tables: %w", err)
	}
	for i, t := range rep.Tables {
		if t.VersionColumn == "" {
			continue
		}
		schema, table, _ := strings.Cut(t.Name, ".")
		var tables, cols int
		if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?),
			(SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?)`,
			schema, table, schema, table, t.VersionColumn).Scan(&tables, &cols); err != nil {
			return nil, fmt.Errorf("apply: read the columns of %s: %w", t.Name, err)
		}
		if tables > 0 && cols == 0 {
			problems = append(problems, fmt.Sprintf("%s has no column %s, which its conflict policy %s orders changes by (replication.tables[%d].version_column): add it (e.g. version BIGINT NOT NULL DEFAULT 1, raised by every write) or name the table's own", t.Name, t.VersionColumn, t.Conflict, i))
		}
	}
	trs, err := db.QueryContext(ctx, `SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS
		WHERE EVENT_OBJECT_SCHEMA IN (`+marks+`) AND LOWER(ACTION_STATEMENT) NOT LIKE '%`+catalog.ApplyVar+`%' ORDER BY 1, 2, 3`, args...)
	if err != nil {
		return nil, fmt.Errorf("apply: read the triggers: %w", err)
	}
	defer trs.Close()
	for trs.Next() {
		var schema, table, trigger string
		if err := trs.Scan(&schema, &table, &trigger); err != nil {
			return nil, fmt.Errorf("apply: read the triggers: %w", err)
		}
		if filter.Table(schema, table) {
			problems = append(problems, fmt.Sprintf("trigger %s on %s.%s would act again on the rows the applier writes (the source's trigger already wrote its effect): guard its body with IF %s IS NULL THEN ... END IF;", trigger, schema, table, catalog.ApplyVar))
		}
	}
	return problems, trs.Err()
}
