package binlog

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Covers reports whether GTID set a includes every transaction of GTID
// set b, in the given flavor ("mariadb" or "mysql"): whether a reader at a
// has read everything a server at b has written.
func Covers(flavor, a, b string) (bool, error) {
	as, err := parseSet(flavor, a)
	if err != nil {
		return false, err
	}
	bs, err := parseSet(flavor, b)
	if err != nil {
		return false, err
	}
	return as.Contain(bs), nil
}

// CheckSet reports whether s is a GTID set in flavor, and why not.
func CheckSet(flavor, s string) error {
	_, err := parseSet(flavor, s)
	return err
}

func parseSet(flavor, s string) (mysql.GTIDSet, error) {
	set, err := mysql.ParseGTIDSet(flavor, s)
	if err != nil {
		return nil, fmt.Errorf("GTID set %q: %w", s, err)
	}
	return set, nil
}

// End reads a server's binlog end, the GTID set of every transaction it
// has written: @@gtid_binlog_pos on MariaDB, @@gtid_executed on MySQL.
func End(ctx context.Context, db *sql.DB, flavor string) (string, error) {
	q := "SELECT @@GLOBAL.gtid_binlog_pos"
	if flavor == mysql.MySQLFlavor {
		q = "SELECT @@GLOBAL.gtid_executed"
	}
	var end string
	if err := db.QueryRowContext(ctx, q).Scan(&end); err != nil {
		return "", fmt.Errorf("read the binlog end: %w", err)
	}
	return end, nil
}
