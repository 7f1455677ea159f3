package seed

import "time"

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
