// Package failover holds the controller's replicated state: one Raft node
// per regiond (and an optional witness that holds no MySQL), whose FSM
// records regions (fenced, failed, cooldown), cell placement, failovers
// with their RPO, and drill history and schedules. Every change is a
// Command that enters the Raft log first; only the leader executes them.
//
// Liveness (who is up, which region has failed) lives in the subpackage
// liveness; the controller that turns its events into commands comes next.
//
// Start a node and record a fence (the same on every region, with its own
// ID, address and folder):
//
//	cfg := failover.DefaultConfig("a", "10.0.1.5:7400", "/var/lib/regiond")
//	cfg.Bootstrap = []failover.Peer{{ID: "a", Addr: "10.0.1.5:7400"},
//		{ID: "b", Addr: "10.0.2.5:7400"}, {ID: "witness", Addr: "10.0.3.5:7400"}}
//	cfg.Logger, cfg.Metrics = logger, failover.NewMetrics(prometheus.DefaultRegisterer)
//	node, err := failover.New(cfg)
//	if err != nil { return err }
//	if err := node.Start(ctx); err != nil { return err }
//	defer node.Stop(context.Background())
//	_, err = node.Execute(ctx, &failover.FenceRegion{Region: "b", Reason: "declared failed",
//		Header: failover.Header{Actor: "controller"}})
//	var nl *failover.NotLeaderError
//	if errors.As(err, &nl) { /* forward to nl.LeaderID at nl.LeaderAddr */ }
//	fenced := node.State().Regions["b"].Fenced
//
// Concurrency: every Node method is safe for concurrent use. The FSM is
// applied by Raft from one goroutine and is deterministic: a command
// carries its own time (Header.At, set by the leader's Execute), so a
// replay on any node gives the same state.
package failover
