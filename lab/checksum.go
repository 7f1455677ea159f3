package lab

import (
	"context"
	"database/sql"
	"fmt"
)

// TableSum is what one server holds of a table: its row count and
// CHECKSUM TABLE. Two servers with equal sums hold the same rows.
type TableSum struct {
	Rows     int64 `json:"rows"`
	Checksum int64 `json:"checksum"`
}

// SumTable reads a table's TableSum ("db.table"). A missing table is an
// error.
func SumTable(ctx context.Context, db *sql.DB, table string) (TableSum, error) {
	var s TableSum
	var name string
	var sum sql.NullInt64
	if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		return s, fmt.Errorf("checksum %s: %w", table, err)
	}
	if !sum.Valid {
		return s, fmt.Errorf("checksum %s: the table does not exist", table)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&s.Rows); err != nil {
		return s, fmt.Errorf("count %s: %w", table, err)
	}
	s.Checksum = sum.Int64
	return s, nil
}
