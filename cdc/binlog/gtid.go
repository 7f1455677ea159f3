package binlog

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Covers reports whether GTID set a includes every transaction of GTID
// set b, in the given flavor ("mariadb" or "mysql"): whether a reader at a
// has read everything a server at b has written.
func Covers(flavor, a, b string) (bool, error) {
	as, err := mysql.ParseGTIDSet(flavor, a)
	if err != nil {
		return false, fmt.Errorf("GTID set %q: %w", a, err)
	}
	bs, err := mysql.ParseGTIDSet(flavor, b)
	if err != nil {
		return false, fmt.Errorf("GTID set %q: %w", b, err)
	}
	return as.Contain(bs), nil
}
