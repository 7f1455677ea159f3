package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	gomysql "github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// sessionSQL sets up an applier's connection. Strict: a value the target
// cannot hold exactly (too long, out of range, not a valid value, an
// unknown column) is an error that halts the partition, never a value
// stored differently. UTC, because capture renders TIMESTAMP values in
// UTC; no foreign key checks, because partitions apply in parallel (a
// child row may land before its parent's partition catches up), as
// MySQL's own parallel replication does; zero stays zero in
// auto-increment columns.
const sessionSQL = "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', foreign_key_checks = 0, " + catalog.ApplyVar + " = 1"

// valueErrors are the server's errors for a value a column cannot hold.
var valueErrors = map[uint16]string{
	1048: "is NULL in a NOT NULL column",
	1054: "is for a column the target's table does not have",
	1264: "is out of the column's range",
	1265: "would be truncated",
	1292: "is not a valid value of the column's type",
	1366: "is not a valid value of the column's type",
	1406: "is too long for the column",
	1906: "is for a column of the primary key that is generated",
}

// columnInError finds the column a value error names.
var columnInError = regexp.MustCompile("(?:[Cc]olumn '([^']+)'|column `[^`]*`\\.`[^`]*`\\.`([^`]+)`)")

// explainValue turns a value error from applying a row of tb on link
// ("a->b") into one
// that names the table, the column, both column types and the fix; any
// other error comes back as it is.
func explainValue(ctx context.Context, db *sql.DB, link string, tb *event.Table, err error) error {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	what, ok := valueErrors[me.Number]
	if !ok {
		return err
	}
	col := ""
	if m := columnInError.FindStringSubmatch(me.Message); m != nil {
		col = m[1] + m[2]
	}
	source := "?"
	for i, c := range tb.Cols {
		if c == col {
			source = typeName(tb.Types[i])
		}
	}
	target := "no such column"
	var ct string
	if qerr := db.QueryRowContext(ctx, "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
		tb.Schema, tb.Name, col).Scan(&ct); qerr == nil {
		target = ct
	}
	return fmt.Errorf("%w: table %s.%s, column %s: the source's value (source type %s) %s in the target (type %s): nothing of the transaction was applied. "+
		"Make the target's column hold the source's values (the same definition as in the source region), then run regionctl link retry '%s': %w",
		ErrSchemaMismatch, tb.Schema, tb.Name, col, source, what, target, link, err)
}

// ErrSchemaMismatch marks a row whose value the target's column cannot
// hold exactly: the partition halts until the schemas agree.
var ErrSchemaMismatch = errors.New("schema mismatch")

// typeName names a binlog column type code.
func typeName(code byte) string {
	switch code {
	case mysql.MYSQL_TYPE_TINY:
		return "tinyint"
	case mysql.MYSQL_TYPE_SHORT:
		return "smallint"
	case mysql.MYSQL_TYPE_INT24:
		return "mediumint"
	case mysql.MYSQL_TYPE_LONG:
		return "int"
	case mysql.MYSQL_TYPE_LONGLONG:
		return "bigint"
	case mysql.MYSQL_TYPE_NEWDECIMAL, mysql.MYSQL_TYPE_DECIMAL:
		return "decimal"
	case mysql.MYSQL_TYPE_FLOAT:
		return "float"
	case mysql.MYSQL_TYPE_DOUBLE:
		return "double"
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return "varchar"
	case mysql.MYSQL_TYPE_STRING:
		return "char"
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_TINY_BLOB, mysql.MYSQL_TYPE_MEDIUM_BLOB, mysql.MYSQL_TYPE_LONG_BLOB:
		return "text/blob"
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return "date"
	case mysql.MYSQL_TYPE_DATETIME, mysql.MYSQL_TYPE_DATETIME2:
		return "datetime"
	case mysql.MYSQL_TYPE_TIMESTAMP, mysql.MYSQL_TYPE_TIMESTAMP2:
		return "timestamp"
	case mysql.MYSQL_TYPE_TIME, mysql.MYSQL_TYPE_TIME2:
		return "time"
	case mysql.MYSQL_TYPE_YEAR:
		return "year"
	case mysql.MYSQL_TYPE_JSON:
		return "json"
	case mysql.MYSQL_TYPE_ENUM:
		return "enum"
	case mysql.MYSQL_TYPE_SET:
		return "set"
	case mysql.MYSQL_TYPE_BIT:
		return "bit"
	}
	return strings.ToLower(fmt.Sprintf("type %d", code))
}
