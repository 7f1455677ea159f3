package ledger

import (
	"strconv"
	"strings"
)

// GTIDSet holds MariaDB GTID ranges as a failover reports them
// ("d-s-first-last" or "d-s-seq", comma separated).
type GTIDSet map[string][][2]uint64 // "d-s" -> ranges

// NewGTIDSet parses lists of GTIDs and ranges (an RPO's LostGTIDs each).
func NewGTIDSet(lists []string) GTIDSet {
	s := GTIDSet{}
	for _, l := range lists {
		for _, part := range strings.Split(l, ",") {
			f := strings.Split(strings.TrimSpace(part), "-")
			if len(f) < 3 {
				continue
			}
			first, err1 := strconv.ParseUint(f[2], 10, 64)
			last := first
			var err2 error
			if len(f) == 4 {
				last, err2 = strconv.ParseUint(f[3], 10, 64)
			}
			if err1 == nil && err2 == nil {
				s[f[0]+"-"+f[1]] = append(s[f[0]+"-"+f[1]], [2]uint64{first, last})
			}
		}
	}
	return s
}

// Has reports whether gtid ("d-s-seq") is in the set.
func (s GTIDSet) Has(gtid string) bool {
	f := strings.Split(gtid, "-")
	if len(f) != 3 {
		return false
	}
	n, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return false
	}
	for _, r := range s[f[0]+"-"+f[1]] {
		if n >= r[0] && n <= r[1] {
			return true
		}
	}
	return false
}
