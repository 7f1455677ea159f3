// Package failover moves a region's cells out and back: the failover
// workflow the controller's leader runs (Orchestrator), with its
// subpackages liveness (gossip: who is up, which region has failed) and
// drill (DR drill plans, runner and reports).
//
// A planned failover is a traffic switch of every bucket of the region
// (RPO 0); a forced one fences the region, lets the survivor drain what
// reached Kafka, holds the region's stream, moves its buckets and counts
// the RPO exactly from the region's binlog (pending until it answers). A
// failback converges the returning region to the survivor, releases its
// stream and switches its buckets home. Every step is a command in the
// controller's Raft log (package controller) before the next starts, so
// that a new leader finishes what a former one left.
package failover
