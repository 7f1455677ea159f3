// Package chaos runs fault scenarios against a lab under a ledger
// workload and checks, with counts, that the platform kept its promises.
//
// The flow of one scenario, file by file:
//
//	lab/ledger    the load: users with three accounts each move money between
//	              their own accounts and pay users of their bucket (two users'
//	              rows in one transaction) through every region's gateway, every
//	              write's outcome recorded (acked, unknown, refused); each
//	              move has a secondary unique key and a savepoint rolled
//	              back to; and the lost and duplicate checks (history.go
//	              names them)
//	job.go        beside the load, a job writes the global rates table straight
//	              to every region's MySQL (last-writer-wins), as batch jobs do
//	fault.go      Fault: SIGKILL and restart of a process (Kill); fault_control.go:
//	              controller leader loss, a traffic switch, planned and forced
//	              failovers; fault_kafka.go: duplicate delivery, a poison message
//	runner.go     opens fresh users, runs the load, injects the faults at a third
//	              of it and heals them at two thirds, waits for convergence
//	check.go      the invariants: lost, duplicate (ledger's), fence; check_tables.go:
//	              identical (verify's comparison) and echo (the regions' topics)
//	breakers.go   damage planted on purpose by the checker's self-tests
//	scenario.go   the catalogue; report.go the results table and JSON
//
// Usage, against a running lab st (regionctl chaos run does this):
//
//	env, err := chaos.NewEnv(st, bin, logger)
//	if err != nil { ... }
//	r, err := chaos.NewRunner(env, chaos.DefaultConfig())
//	if err != nil { ... }
//	if err := r.Prepare(ctx); err != nil { ... } // the ledger schema
//	ss, _ := chaos.Select("kill-mysql,forced-failover")
//	rep := r.RunAll(ctx, ss)
//	rep.WriteTable(os.Stdout)
//
// A Runner and its Env are used from one goroutine; the workload's
// workers are owned by ledger.Workload.Run, which returns when they are
// done.
package chaos
