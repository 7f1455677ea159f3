package rpo

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Apart returns the failed region's transactions that exactly one of two
// surviving regions applied, given each one's Result against the failed
// region: those x lacks that y applied, then those y lacks that x applied.
// The rows such a transaction wrote hold different images in the two
// regions (until a later write makes them equal again), so they are what
// a reconciliation compares.
//
// A transaction one Result lists past the other's ReadUpTo (it reached the
// failed region between the two reads) is not apart: nobody applied it.
// complete is false unless both Results are Listed: rows may then be
// missing from the answer.
func Apart(flavor string, x, y Result) (apart []LostTxn, complete bool, err error) {
	complete = x.Listed() && y.Listed()
	for _, p := range [][2]Result{{x, y}, {y, x}} {
		lacks, other := p[0], p[1]
		otherLost, err := ParseLost(flavor, other.LostGTIDs)
		if err != nil {
			return nil, false, err
		}
		read, err := mysql.ParseGTIDSet(flavor, other.ReadUpTo)
		if err != nil {
			return nil, false, fmt.Errorf("rpo: read up to %q: %w", other.ReadUpTo, err)
		}
		for _, t := range lacks.Lost {
			in, err := contains(flavor, read, t.GTID)
			if err != nil {
				return nil, false, err
			}
			if !in || otherLost.Has(t.GTID) {
				continue // lost in both, or unknown to the other read
			}
			apart = append(apart, t)
		}
	}
	return apart, complete, nil
}

// contains reports whether GTID set set includes transaction gtid.
func contains(flavor string, set mysql.GTIDSet, gtid string) (bool, error) {
	one, err := mysql.ParseGTIDSet(flavor, gtid)
	if err != nil {
		return false, fmt.Errorf("rpo: transaction %q: %w", gtid, err)
	}
	return set.Contain(one), nil
}
