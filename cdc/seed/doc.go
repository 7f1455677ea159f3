// Package seed copies replicated tables from a donor region's MySQL into
// another region's, each table in a consistent snapshot of the donor, and
// records with the copy the positions that snapshot reflects: the donor's
// GTID position and the donor's inbound checkpoints of every other source
// (docs/regions.md). From those positions the target's links know where to
// start and which changes the copy already holds (Positions.Covers).
//
// The stages, in order:
//
//	Open     -> a snapshot of the donor and its positions
//	Copier   -> each table copied in its own snapshot, recorded in
//	            _region.seed_tables of the target with its positions
//	Start    -> the target's starting checkpoints per source and partition
//	Covers   -> during catch-up, skip what a table's copy already holds
//
// A copy is resumable per table: a table recorded done keeps its copy and
// positions; a table whose copy was interrupted is copied again whole.
package seed
