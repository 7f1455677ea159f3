package catalog

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// A column dropped in one region while another keeps writing the table:
// the other region's rows written before the drop reached it still carry
// the column. This region dropped it on purpose, and the other region
// drops it too when the change arrives, so the applier leaves those
// values out instead of halting on an unknown column. Capture records
// every column its own region drops (RecordDropped, in DroppedTable);
// the applier asks Dropped. A column missing in the target for any other
// reason still halts the link (strict apply).

// DroppedTable records the columns this region's own schema changes
// dropped. Capture writes it; nothing in _region is replicated.
const DroppedTable = "_region.dropped_columns"

// DroppedSchema creates DroppedTable.
const DroppedSchema = `CREATE TABLE IF NOT EXISTS ` + DroppedTable + ` (
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	col VARCHAR(64) NOT NULL,
	gtid VARCHAR(256) NOT NULL,
	stmt TEXT NOT NULL,
	dropped_at TIMESTAMP(6) NOT NULL,
	PRIMARY KEY (db, tbl, col)
) ENGINE=InnoDB`

var (
	alterTable = regexp.MustCompile("(?is)^\\s*(?:/\\*.*?\\*/\\s*)*ALTER\\s+(?:ONLINE\\s+|IGNORE\\s+)*TABLE\\s+(?:IF\\s+EXISTS\\s+)?(`[^`]+`|[\\w$]+)(?:\\s*\\.\\s*(`[^`]+`|[\\w$]+))?\\s+(.*)$")
	dropClause = regexp.MustCompile("(?i)\\bDROP\\s+(?:COLUMN\\s+)?(?:IF\\s+EXISTS\\s+)?(`[^`]+`|[\\w$]+)")
)

// notColumns are what DROP may name besides a column.
var notColumns = map[string]bool{"PRIMARY": true, "INDEX": true, "KEY": true, "FOREIGN": true, "CONSTRAINT": true,
	"PARTITION": true, "CHECK": true, "PERIOD": true, "SYSTEM": true, "COLUMN": true}

// DroppedColumns reads an ALTER TABLE statement run with defaultDB and
// returns its table and the columns it drops (none: not such a statement).
func DroppedColumns(defaultDB, stmt string) (db, table string, cols []string) {
	m := alterTable.FindStringSubmatch(stmt)
	if m == nil {
		return "", "", nil
	}
	unquote := func(s string) string { return strings.ReplaceAll(strings.Trim(s, "`"), "``", "`") }
	db, table = defaultDB, unquote(m[1])
	if m[2] != "" {
		db, table = unquote(m[1]), unquote(m[2])
	}
	for _, d := range dropClause.FindAllStringSubmatch(m[3], -1) {
		if name := unquote(d[1]); !notColumns[strings.ToUpper(name)] || strings.HasPrefix(d[1], "`") {
			cols = append(cols, name)
		}
	}
	return db, table, cols
}

// RecordDropped records that this region's statement stmt (gtid) dropped
// cols of db.table.
func (c *Cache) RecordDropped(ctx context.Context, db, table string, cols []string, gtid, stmt string) error {
	if _, err := c.DB.ExecContext(ctx, DroppedSchema); err != nil {
		return fmt.Errorf("record dropped columns: %w", err)
	}
	for _, col := range cols {
		if _, err := c.DB.ExecContext(ctx, `INSERT INTO `+DroppedTable+` (db, tbl, col, gtid, stmt, dropped_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))
			ON DUPLICATE KEY UPDATE gtid = ?, stmt = ?, dropped_at = UTC_TIMESTAMP(6)`, db, table, col, gtid, stmt, gtid, stmt); err != nil {
			return fmt.Errorf("record dropped column %s.%s.%s: %w", db, table, col, err)
		}
	}
	c.Forget()
	return nil
}
