package seed

import (
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
)

// Checkpoint is one inbound partition's checkpoint as the donor had
// applied it in a snapshot (a row of _region.apply_checkpoints).
type Checkpoint struct {
	Offset int64  `json:"offset"`
	Seq    uint64 `json:"seq"`
	Pos    string `json:"pos"`
	GTID   string `json:"gtid"`
	// SourceTime is when capture sent that message (zero when unknown).
	SourceTime time.Time `json:"source_time"`
}

// Positions is what one snapshot of the donor reflects: the donor's own
// transactions up to GTID, and each other source's transactions up to the
// offsets the donor's links had applied, per partition.
type Positions struct {
	// Donor is the donor region.
	Donor string `json:"donor"`
	// Flavor is the donor's ("mariadb" or "mysql"), for comparing GTID sets.
	Flavor string `json:"flavor"`
	// GTID is the donor's binlog position of the snapshot, as a GTID set.
	GTID string `json:"gtid"`
	// Inbound is source region -> partition -> the donor's checkpoint.
	Inbound map[string]map[int32]Checkpoint `json:"inbound"`
}

// Covers reports whether a copy made at p already holds the change of one
// message: from source, in partition part at offset, with pos the
// source's GTID set after it (event.Message.Pos).
//
// From the donor itself, a message is held when its transaction is in the
// snapshot's GTID set (its pos is contained in it: capture's positions
// grow in binlog order). From any other source it is held when the donor
// had applied that partition up to at least that offset: the donor's
// links apply each partition in order and checkpoint in the same
// transaction as the rows. A source the donor had applied nothing of, or
// a partition it had not, holds nothing.
func (p Positions) Covers(source string, part int32, offset int64, pos string) (bool, error) {
	if source == p.Donor {
		if pos == "" {
			return false, fmt.Errorf("seed: a message of %s at %d/%d has no position to compare with the copy's %q", source, part, offset, p.GTID)
		}
		return binlog.Covers(p.Flavor, p.GTID, pos)
	}
	cp, ok := p.Inbound[source][part]
	return ok && offset <= cp.Offset, nil
}
