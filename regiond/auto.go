package regiond

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

// onLiveness receives the gossip detector's events (from the member's
// goroutine: it must not block).
func (d *Daemon) onLiveness(e liveness.Event) {
	if e.Kind != liveness.EventFailed {
		return
	}
	select {
	case d.failed <- e:
	default:
		d.log.Error("controller: a region failure event was dropped (the failover loop is busy)", "region", e.Region)
	}
}

// autoRetry is how soon the leader tries again to fail over a region
// whose automatic failover did not happen (refused by the promotion
// guard, or failed).
const autoRetry = 30 * time.Second

// autoFailover fails over, as the controller's leader, every region of
// controller.auto_failover that the detector holds failed: the same
// forced failover an operator runs, with the actor "controller". It looks
// at the detector's current verdicts every second (and at once on an
// event), not only at the event: a node that wins leadership after the
// event (the failed region took the leader down with it) still acts. A
// region already fenced (failed over, and not failed back) is left alone:
// it stays fenced until an operator fails it back.
func (d *Daemon) autoFailover(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	tried := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.failed:
		case <-tick.C:
		}
		if !d.ctl.node.IsLeader() {
			continue
		}
		for _, rs := range d.ctl.member.Regions() {
			if !rs.Failed || !slices.Contains(d.cfg.Deployment.Controller.AutoFailover, rs.Region) ||
				d.ctl.node.State().Regions[rs.Region].Fenced || time.Since(tried[rs.Region]) < autoRetry {
				continue
			}
			tried[rs.Region] = time.Now()
			reason := fmt.Sprintf("declared failed by %d of %d observers (%s); automatic failover (controller.auto_failover)", len(rs.Lost), rs.Of, strings.Join(rs.Lost, ","))
			d.log.Warn("controller: automatic forced failover", "region", rs.Region, "reason", reason)
			req := api.FailoverRequest{From: rs.Region, Kind: controller.KindForced, Reason: reason}
			rep, err := d.runFailover(ctx, req, "controller")
			if err != nil {
				d.log.Error("controller: automatic failover failed; tried again in "+autoRetry.String()+" while the region stays failed", "region", rs.Region, "err", err)
				continue
			}
			d.log.Warn("controller: automatic failover done", "failover", rep.ID, "region", rs.Region, "to", rep.To, "duration_ms", rep.DurationMS, "rpo", rep.RPO)
		}
	}
}
