// Package ledger is the client side of the lab app's ledger: the one
// load generator and the one history checker that tests, chaos
// scenarios, drills, benchmarks and the demo share.
//
// Users with three accounts each (lab.LedgerSchema) move money between
// their own accounts through the gateways (Workload): every move is one
// multi-row transaction keyed by a request id the client chose, and
// every write's outcome is kept in a client-side History (acknowledged,
// unknown, refused). The checker reads what every region holds of the
// users (Read) and counts acknowledged writes missing from a region
// (CheckLost) and effects applied twice or without a request
// (CheckDuplicate); Verify does both once the regions converged.
//
//	if err := ledger.CreateSchema(ctx, st, time.Minute); err != nil { ... }
//	w := ledger.Workload{Gateways: []string{gw}, Users: users, Rate: 100, Workers: 8,
//		Duration: 30 * time.Second, RunID: "demo", History: &ledger.History{}}
//	if err := w.Open(ctx, time.Minute); err != nil { ... }
//	w.Run(ctx)
//	lost, dup, err := ledger.Verify(ctx, st, w.History.Writes(), users, nil, time.Minute)
//
// A Workload's workers are owned by Run, which returns when they are
// done; a History is safe for concurrent use.
package ledger
