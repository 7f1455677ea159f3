package failover

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/liveness"
)

// autoRetry is how soon the leader tries again to fail over a region
// whose automatic failover did not happen (refused by the promotion
// guard, or failed).
const autoRetry = 30 * time.Second

// autoFailover fails over, as the controller's leader, every region of
// controller.auto_failover that the detector holds failed: the same
// forced failover an operator runs, with the actor "controller". It looks
// at the detector's current verdicts every second (and at once on an
// event), not only at the event: a node that wins leadership after the
// event (the failed region took the leader down with it) still acts, and
// while a failed region waits for a leader it looks every 100 ms, so a
// new leader acts within that of its election. A region already fenced
// (failed over, and not failed back) is left alone: it stays fenced until
// an operator fails it back.
func (o *Orchestrator) autoFailover(ctx context.Context) error {
	tried := map[string]time.Time{}
	due := func(rs liveness.RegionStatus) bool {
		return rs.Failed && slices.Contains(o.dep.Controller.AutoFailover, rs.Region) &&
			!o.node.State().Regions[rs.Region].Fenced && time.Since(tried[rs.Region]) >= autoRetry
	}
	wait := time.Second
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-o.failed:
		case <-time.After(wait):
		}
		wait = time.Second
		if !o.node.IsLeader() {
			if slices.ContainsFunc(o.live.Regions(), due) {
				wait = 100 * time.Millisecond
			}
			continue
		}
		for _, rs := range o.live.Regions() {
			if !due(rs) {
				continue
			}
			tried[rs.Region] = time.Now()
			reason := fmt.Sprintf("declared failed by %d of %d observers (%s); automatic failover (controller.auto_failover)", len(rs.Lost), rs.Of, strings.Join(rs.Lost, ","))
			o.log.Warn("controller: automatic forced failover", "region", rs.Region, "reason", reason)
			req := api.FailoverRequest{From: rs.Region, Kind: controller.KindForced, Reason: reason}
			rep, err := o.Failover(ctx, req, "controller")
			if err != nil {
				o.log.Error("controller: automatic failover failed; tried again in "+autoRetry.String()+" while the region stays failed", "region", rs.Region, "err", err)
				continue
			}
			o.log.Warn("controller: automatic failover done", "failover", rep.ID, "region", rs.Region, "to", rep.To, "duration_ms", rep.DurationMS, "rpo", rep.RPO)
		}
	}
}
