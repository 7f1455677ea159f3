// Package controller holds the failover controller's replicated state: one Raft node
// per regiond (and an optional witness that holds no MySQL), whose FSM
// records regions (fenced, failed, cooldown), cell placement, failovers
// with their RPO, and drill history and schedules. Every change is a
// Command that enters the Raft log first; only the leader executes them.
//
// Liveness (who is up, which region has failed) lives in package
// failover/liveness; the failover workflow that turns its verdicts and the
// operators' requests into commands lives in package controller.
//
// Start a node and record a fence (the same on every region, with its own
// ID, address and folder):
//
//	cfg := controller.DefaultConfig("a", "10.0.1.5:7400", "/var/lib/regiond")
//	cfg.Bootstrap = []controller.Peer{{ID: "a", Addr: "10.0.1.5:7400"},
//		{ID: "b", Addr: "10.0.2.5:7400"}, {ID: "witness", Addr: "10.0.3.5:7400"}}
//	cfg.Logger, cfg.Metrics = logger, controller.NewMetrics(prometheus.DefaultRegisterer)
//	node, err := controller.New(cfg)
//	if err != nil { return err }
//	if err := node.Start(ctx); err != nil { return err }
//	defer node.Stop(context.Background())
//	_, err = node.Execute(ctx, &controller.FenceRegion{Region: "b", Reason: "declared failed",
//		Header: controller.Header{Actor: "controller"}})
//	var nl *controller.NotLeaderError
//	if errors.As(err, &nl) { /* forward to nl.LeaderID at nl.LeaderAddr */ }
//	fenced := node.State().Regions["b"].Fenced
//
// Concurrency: every Node method is safe for concurrent use. The FSM is
// applied by Raft from one goroutine and is deterministic: a command
// carries its own time (Header.At, set by the leader's Execute), so a
// replay on any node gives the same state.
package controller
