package rpo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// gtidList collects GTIDs in commit order and renders them as a compact
// set: a MySQL GTID set ("uuid:5-9:12"), or for MariaDB a list of ranges
// "domain-server-first-last" (or "domain-server-seq" for one), merging
// only consecutive sequence numbers. A range therefore never includes a
// transaction that was not added.
type gtidList struct {
	flavor string
	mysql  *mysql.MysqlGTIDSet
	runs   []mariaRun
}

type mariaRun struct {
	domain, server uint32
	first, last    uint64
}

func newGTIDList(flavor string) *gtidList {
	l := &gtidList{flavor: flavor}
	if flavor == mysql.MySQLFlavor {
		s := mysql.NewMysqlGTIDSet()
		l.mysql = &s
	}
	return l
}

func (l *gtidList) add(gtid string) error {
	if l.mysql != nil {
		if err := l.mysql.Update(gtid); err != nil {
			return fmt.Errorf("rpo: GTID %q: %w", gtid, err)
		}
		return nil
	}
	g, err := mysql.ParseMariadbGTID(gtid)
	if err != nil {
		return fmt.Errorf("rpo: GTID %q: %w", gtid, err)
	}
	for i := range l.runs {
		r := &l.runs[i]
		if r.domain == g.DomainID && r.server == g.ServerID && r.last+1 == g.SequenceNumber {
			r.last = g.SequenceNumber
			return nil
		}
	}
	l.runs = append(l.runs, mariaRun{g.DomainID, g.ServerID, g.SequenceNumber, g.SequenceNumber})
	return nil
}

func (l *gtidList) String() string {
	if l.mysql != nil {
		return l.mysql.String()
	}
	parts := make([]string, len(l.runs))
	for i, r := range l.runs {
		s := strconv.FormatUint(uint64(r.domain), 10) + "-" + strconv.FormatUint(uint64(r.server), 10) + "-" + strconv.FormatUint(r.first, 10)
		if r.last != r.first {
			s += "-" + strconv.FormatUint(r.last, 10)
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

// LostSet is a Result.LostGTIDs value parsed back: which transactions it
// names. Several values may be joined with ",".
type LostSet struct {
	mysql mysql.GTIDSet
	runs  []mariaRun
}

// ParseLost parses LostGTIDs values of flavor (comma-joined).
func ParseLost(flavor, s string) (*LostSet, error) {
	ls := &LostSet{}
	if strings.TrimSpace(s) == "" {
		return ls, nil
	}
	if flavor == mysql.MySQLFlavor {
		set, err := mysql.ParseMysqlGTIDSet(s)
		if err != nil {
			return nil, fmt.Errorf("rpo: lost GTIDs %q: %w", s, err)
		}
		ls.mysql = set
		return ls, nil
	}
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 && len(f) != 4 {
			return nil, fmt.Errorf("rpo: lost GTIDs %q: %q is not domain-server-seq or domain-server-first-last", s, part)
		}
		n := make([]uint64, len(f))
		for i, x := range f {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("rpo: lost GTIDs %q: %q: %w", s, part, err)
			}
			n[i] = v
		}
		r := mariaRun{domain: uint32(n[0]), server: uint32(n[1]), first: n[2], last: n[len(n)-1]}
		if r.last < r.first {
			return nil, fmt.Errorf("rpo: lost GTIDs %q: range %q ends before it starts", s, part)
		}
		ls.runs = append(ls.runs, r)
	}
	return ls, nil
}

// Has reports whether the transaction gtid is in the set.
func (ls *LostSet) Has(gtid string) bool {
	if ls.mysql != nil {
		one, err := mysql.ParseMysqlGTIDSet(gtid)
		return err == nil && ls.mysql.Contain(one)
	}
	g, err := mysql.ParseMariadbGTID(gtid)
	if err != nil {
		return false
	}
	for _, r := range ls.runs {
		if r.domain == g.DomainID && r.server == g.ServerID && g.SequenceNumber >= r.first && g.SequenceNumber <= r.last {
			return true
		}
	}
	return false
}
