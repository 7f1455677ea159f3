package regiond

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
)

// forcedFailover takes a region that is gone out of service: it fences
// the region (in the controller's state and in the routing table, so its
// routers refuse writes even if it comes back cut off), lets the link to
// the survivor apply what already reached Kafka (bounded), moves the
// region's buckets to a cell of the survivor, and reports the RPO: what
// the region committed that the survivor never applied, exactly once its
// binlog can be read, "pending" until then (the controller completes it).
func (d *Daemon) forcedFailover(ctx context.Context, req FailoverRequest, actor string) (*FailoverReport, error) {
	start := time.Now()
	target, _, err := d.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	rep, h, err := d.beginFailover(ctx, start, failover.KindForced, req, actor)
	if err != nil {
		return nil, err
	}
	// The record must outlive a cancelled request.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	step := func(name string, err error, detail string, rpo *failover.RPO) {
		res := "ok"
		if err != nil {
			res, detail = "failed", detail+": "+err.Error()
		}
		if _, xerr := d.ctl.node.Execute(rctx, &failover.StepFailover{Header: h, ID: rep.ID, Step: name, Result: res, Detail: detail, RPO: rpo}); xerr != nil {
			d.log.Error("cannot record a failover step", "failover", rep.ID, "step", name, "err", xerr)
		}
	}
	why := fmt.Sprintf("forced failover %s: %s", rep.ID, req.Reason)
	end := func(err error, rpo *failover.RPO) (*FailoverReport, error) {
		e := &failover.EndFailover{Header: h, ID: rep.ID, Outcome: failover.FailoverDone, RPO: rpo}
		rep.State = failover.FailoverDone
		if err != nil {
			e.Outcome, e.Reason, rep.State, rep.Error = failover.FailoverRolledBack, err.Error(), failover.FailoverRolledBack, err.Error()
		}
		if _, xerr := d.ctl.node.Execute(rctx, e); xerr != nil {
			d.log.Error("cannot record the end of a failover", "failover", rep.ID, "err", xerr)
		}
		if rpo != nil {
			rep.RPO = *rpo
		}
		rep.DurationMS = time.Since(start).Milliseconds()
		return rep, err
	}

	// 1. Fence: the controller's state first, then the routing table.
	if _, err := d.ctl.node.Execute(rctx, &failover.FenceRegion{Header: h, Region: req.From, Reason: why}); err != nil {
		step("fence", err, "controller state", nil)
		return end(err, nil)
	}
	ft, err := d.store.Update(rctx, router.Change{Kind: "fence-region", Actor: actor, Reason: why}, func(t *router.Table) error {
		return t.FenceRegion(req.From, why)
	})
	if err != nil {
		step("fence", err, "routing table", nil)
		return end(err, nil)
	}
	fenceAt := time.Now()
	step("fence", nil, fmt.Sprintf("region %s fenced at routing epoch %d", req.From, ft.Epoch), nil)

	// 2. Drain: the survivor applies what reached Kafka before the loss.
	link, err := d.drain(rctx, req.From, req.To)
	step("drain", err, fmt.Sprintf("link %s->%s applied %s (%d behind what capture published)", req.From, req.To, link.AppliedGTID, link.LagTxns), nil)

	// 3. Move the buckets: serving from the survivor's cell now.
	n := 0
	mt, err := d.store.Update(rctx, router.Change{Kind: "failover", Actor: actor, Reason: why}, func(t *router.Table) error {
		var merr error
		n, merr = t.MoveRegion(req.From, target)
		return merr
	})
	if err != nil {
		step("move", err, "routing table", nil)
		return end(err, nil)
	}
	rep.WriteForbiddenMS = time.Since(fenceAt).Milliseconds()
	step("move", nil, fmt.Sprintf("%d buckets serve from cell %s at routing epoch %d", n, target, mt.Epoch), nil)

	// 4. RPO: exact when the failed region's binlog answers, else pending.
	rpo := d.rpo(rctx, req.From, req.To, link)
	return end(nil, &rpo)
}

// drain waits, up to router.catch_up_timeout, until the link from -> to
// has applied everything capture published; it returns the link as it
// was last seen.
func (d *Daemon) drain(ctx context.Context, from, to string) (traffic.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Deployment.Router.CatchUpTimeout)
	defer cancel()
	var last traffic.Link
	var lastErr error
	for {
		l, err := d.peers.Link(ctx, from, to)
		if err == nil {
			last = l
			if l.LagTxns == 0 && l.AppliedGTID != "" {
				return l, nil
			}
			lastErr = fmt.Errorf("link %s->%s is %s, %d transactions behind", from, to, l.State, l.LagTxns)
			if l.State != "running" {
				// It cannot fetch (the region's Kafka went with it):
				// what it has not applied is the RPO.
				return l, lastErr
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return last, errors.Join(fmt.Errorf("not drained within router.catch_up_timeout"), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rpo says what region from committed that to never applied.
func (d *Daemon) rpo(ctx context.Context, from, to string, link traffic.Link) failover.RPO {
	r := failover.RPO{Pending: true, LastAppliedGTID: link.AppliedGTID}
	if r.LastAppliedGTID == "" {
		r.LastAppliedGTID = "none"
	}
	return r
}
