// Package bench measures replication: the same sysbench-like write load
// (oltp_write_only: update k, update c, delete and re-insert one random
// row, as one transaction) against the region platform's link between two
// lab regions and against MariaDB's own replication, single-threaded and
// optimistic parallel, one after the other on the same machine, so that
// their ratios mean something.
//
// For each run it reports the source's commit rate, the target's apply
// rate over load and catch-up, the catch-up time after the load, the
// end-to-end lag of probe rows written every 100 ms during the load
// (p50, p99, max), the applier's peak memory (the platform's regiond),
// and whether every table is the same in source and target (package
// verify's comparison).
//
// From the command line:
//
//	make build
//	bin/regionctl bench replication --json                      # 3 runs of 20 s, as fast as the source goes
//	bin/regionctl bench replication --rate 1000 --duration 30s  # lag at a steady 1,000 txn/s
//
// From Go:
//
//	rep, err := bench.Run(ctx, bench.Options{
//		Workload: bench.Workload{Tables: 4, Rows: 20000, Threads: 8, Duration: 20 * time.Second},
//		Progress: os.Stderr,
//	})
//	if err == nil {
//		err = rep.Check() // a target that differs from its source fails the run
//	}
package bench
