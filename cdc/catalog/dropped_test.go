package catalog

import (
	"slices"
	"testing"
)

func TestDroppedColumns(t *testing.T) {
	for _, tc := range []struct {
		stmt, db, table string
		cols            []string
	}{
		{"ALTER TABLE users DROP COLUMN nickname", "lending", "users", []string{"nickname"}},
		{"alter table `lending`.`users` drop `note`, ADD COLUMN x INT, DROP COLUMN IF EXISTS y", "lending", "users", []string{"note", "y"}},
		{"/*region-applied*/ ALTER ONLINE TABLE other.t DROP INDEX k, DROP PRIMARY KEY, DROP FOREIGN KEY fk, DROP c", "other", "t", []string{"c"}},
		{"ALTER TABLE t ADD COLUMN dropped INT", "lending", "t", nil},
		{"DROP TABLE t", "", "", nil},
	} {
		db, table, cols := DroppedColumns("lending", tc.stmt)
		if db != tc.db || table != tc.table || !slices.Equal(cols, tc.cols) {
			t.Errorf("DroppedColumns(%q) = %q, %q, %q; want %q, %q, %q", tc.stmt, db, table, cols, tc.db, tc.table, tc.cols)
		}
	}
}
