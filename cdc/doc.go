// Package cdc is the replication between regions: change data capture
// from each region's MySQL binlog to Kafka, and exactly-once apply in
// every other region. Its stages live in sub-packages, in data-flow order:
//
//	binlog  -> read the source's row binlog into whole transactions
//	capture -> publish them to Kafka, checkpoint the position in etcd
//	event   -> the wire format both sides agree on
//	apply   -> consume, resolve conflicts, apply with a checkpoint row
//
// and beside them seed (a region's tables copied from a donor, with the
// positions its links start from) and rpo (what a failed region's
// survivors never applied).
//
// regiond wires them together (regiond/replication.go); docs/cdc.md
// describes the guarantees.
package cdc
