// Package verify compares replicated tables across regions and repairs
// the rows that drifted, in the spirit of pt-table-checksum.
//
// Compare walks each table in primary-key order in chunks whose bounds
// come from the first (reference) region. For every chunk it computes,
// in SQL on every region at once, the row count and a 128-bit XOR of the
// rows' MD5s (every column, with NULL markers). A chunk whose sums differ
// is re-checked a few times after a delay, so that a difference that is
// only replication lag drains away instead of being reported; a chunk
// that still differs is drilled down to rows: its rows are read from
// every region and diffed by primary key (missing, extra, different
// columns).
//
// Converge is Compare for callers that expect the tables identical once
// replication drains (drill checks, the chaos checker, tests): differing
// chunks are re-checked until a deadline. Config.Scope limits the rows
// judged (a test's own users).
//
// Repair makes every region hold one authoritative image of each
// differing row: the image of the region that owns the row (the region
// of the cell its bucket maps to in the routing table), or of one named
// region. It writes directly into each diverged region, never through
// replication (see Repair for why and how echo is prevented).
//
//	regions := []verify.Region{{Name: "a", DB: dbA}, {Name: "b", DB: dbB}}
//	res, err := verify.Compare(ctx, verify.DefaultConfig(), regions, []string{"lending.users"})
//	if err != nil {
//		return err
//	}
//	if !res.Equal() {
//		rep, err := verify.Repair(ctx, regions, res, verify.FromRegion("a"))
//		...
//	}
package verify
