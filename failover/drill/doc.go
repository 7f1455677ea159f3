// Package drill runs the monthly DR drill: a plan (YAML) of pre-checks, a
// planned switchover, a forced failover, failbacks and post-checks; a
// Runner that executes it through the controller's Actions, measures
// detection time, RTO, RPO and write-forbidden windows and judges every
// criterion; and the audit report (JSON, Markdown, self-contained HTML
// with a timeline chart). Due says which scheduled plans the controller
// leader should start.
//
// The package does not fail regions over itself: it calls Actions, which
// regiond implements on top of the failover controller.
//
//	plan, err := drill.LoadPlan("deploy/drills/monthly.yaml")
//	if err != nil { return err } // every problem, with its path and fix
//	r := drill.Runner{Actions: controllerActions, Logger: logger, Operator: "alice"}
//	rep, err := r.Run(ctx, plan, "monthly-2026-11")
//	if err != nil { return err } // the drill could not start
//	if err := rep.WriteAll(filepath.Join(dataDir, "drills", rep.DrillID)); err != nil { return err }
//	_, err = node.Execute(ctx, &failover.RecordDrill{ID: rep.DrillID, Plan: rep.Plan,
//		Scenario: rep.Scenario, Outcome: string(rep.Outcome), StartedAt: rep.StartedAt,
//		EndedAt: rep.EndedAt, Report: filepath.Join(dataDir, "drills", rep.DrillID)})
//
// On the leader, every minute:
//
//	st := node.State()
//	for _, name := range drill.Due(st.Schedules, st.Drills, time.Now()) { /* run it */ }
//
// Concurrency: a Runner runs one drill at a time and calls Actions from
// the goroutine that called Run, one method at a time. Plans and Reports
// are plain values; the writers only read them. See docs/drills.md.
package drill
