package regiond

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/regionplatform/region/failover"
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

// autoFailover fails over, as the controller's leader, every region of
// controller.auto_failover that the detector declares failed: the same
// forced failover an operator runs, with the actor "controller". A region
// already fenced (failed over, and not failed back) is left alone: it
// stays fenced until an operator fails it back.
func (d *Daemon) autoFailover(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-d.failed:
			if !slices.Contains(d.cfg.Deployment.Controller.AutoFailover, e.Region) || !d.ctl.node.IsLeader() {
				continue
			}
			if r := d.ctl.node.State().Regions[e.Region]; r.Fenced {
				d.log.Info("controller: region declared failed is fenced already; no automatic failover", "region", e.Region, "reason", r.FenceReason)
				continue
			}
			reason := fmt.Sprintf("declared failed by %d of %d observers (%s); automatic failover (controller.auto_failover)", len(e.Observers), e.Of, strings.Join(e.Observers, ","))
			d.log.Warn("controller: automatic forced failover", "region", e.Region, "reason", reason)
			req := FailoverRequest{From: e.Region, Kind: failover.KindForced, Reason: reason}
			rep, err := d.runFailover(ctx, req, "controller")
			if err != nil {
				d.log.Error("controller: automatic failover failed", "region", e.Region, "err", err)
				continue
			}
			d.log.Warn("controller: automatic failover done", "failover", rep.ID, "region", e.Region, "to", rep.To, "duration_ms", rep.DurationMS, "rpo", rep.RPO)
		}
	}
}
