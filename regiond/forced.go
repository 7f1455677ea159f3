package regiond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/controller"
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
func (d *Daemon) forcedFailover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	start := time.Now()
	target, _, err := d.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	fr, cancel, err := d.beginFailover(ctx, start, controller.KindForced, req, "", actor)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return d.forcedSteps(fr, req, target, nil)
}

// forcedSteps carries out forced failover fr, skipping the steps in done
// (the ones a former leader finished: a new leader takes over from there;
// each step may also run twice safely), and records its end.
func (d *Daemon) forcedSteps(fr *record, req api.FailoverRequest, target string, done map[string]bool) (*api.FailoverReport, error) {
	rctx, rep, h, actor := fr.ctx, fr.rep, fr.h, fr.h.Actor
	step, end := fr.step, fr.end
	why := fmt.Sprintf("forced failover %s: %s", rep.ID, req.Reason)

	// 1. Fence: the controller's state first, then the routing table.
	if !done["fence"] {
		if _, err := d.ctl.node.Execute(rctx, &controller.FenceRegion{Header: h, Region: req.From, Reason: why}); err != nil {
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
		step("fence", nil, fmt.Sprintf("region %s fenced at routing epoch %d", req.From, ft.Epoch), nil)
	}
	fenceAt := time.Now()

	// 2. Drain: the survivor applies what reached Kafka before the loss.
	var link traffic.Link
	if done["hold"] {
		link, _ = d.peers.Link(rctx, req.From, req.To) // held: it applies nothing more of req.From
	} else {
		var err error
		link, err = d.drain(rctx, req.From, req.To)
		step("drain", err, fmt.Sprintf("link %s->%s applied %s (%d behind what capture published)", req.From, req.To, link.AppliedGTID, link.LagTxns), nil)
		if err := d.promotionGuard(req, link); err != nil {
			step("promotion guard", err, "", nil)
			rep, err := end(err, nil)
			d.unfence(rctx, req.From, actor, "promotion guard refused forced failover "+rep.ID)
			return rep, err
		}
		// Hold: from here on nothing more of the region is applied
		// anywhere. What it committed that the survivor lacks is the RPO;
		// applied when the region returns, it would overwrite the
		// survivor's newer writes.
		if _, err := d.ctl.node.Execute(rctx, &controller.HoldRegion{Header: h, Region: req.From, Failover: rep.ID}); err != nil {
			step("hold", err, "", nil)
			return end(err, nil)
		}
		step("hold", nil, fmt.Sprintf("every region holds %s's stream until a failback releases it", req.From), nil)
		d.awaitHeld(rctx, req.From, req.To)
	}

	// 3. Move the buckets: serving from the survivor's cell now.
	if !done["move"] {
		n := 0
		mt, err := d.store.Update(rctx, router.Change{Kind: "failover", Actor: actor, Reason: why}, func(t *router.Table) error {
			var merr error
			n, merr = t.MoveRegion(req.From, target)
			return merr
		})
		if err != nil {
			step("move", err, "routing table", nil)
			if _, rerr := d.ctl.node.Execute(rctx, &controller.ReleaseRegion{Header: h, Region: req.From}); rerr != nil {
				d.log.Error("failover: cannot release the region's stream after the move failed", "region", req.From, "err", rerr)
			}
			return end(err, nil)
		}
		rep.WriteForbiddenMS = time.Since(fenceAt).Milliseconds()
		step("move", nil, fmt.Sprintf("%d buckets serve from cell %s at routing epoch %d", n, target, mt.Epoch), nil)
	}

	// 4. RPO: exact when the failed region's binlog answers, else pending.
	r := d.rpo(rctx, rep.ID, req.From, req.To, link)
	return end(nil, &r)
}

// awaitHeld waits (up to a second) until the survivor's link from region
// reports its stream held: a link that still receives messages holds at
// the next one, a link whose source is gone receives none and applies
// nothing more anyway.
func (d *Daemon) awaitHeld(ctx context.Context, from, to string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for {
		if l, err := d.peers.Link(ctx, from, to); err == nil && (l.State == "held" || l.State != "running") {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// promotionGuard refuses a forced failover that would leave the survivor
// more than controller.rpo_budget transactions behind, unless the request
// accepts it. A link whose applied position is unknown cannot prove its
// lag and counts as over budget.
func (d *Daemon) promotionGuard(req api.FailoverRequest, link traffic.Link) error {
	budget := d.cfg.Deployment.Controller.RPOBudget
	switch {
	case budget == 0 || req.AcceptRPO:
		return nil
	case link.AppliedGTID == "":
		return fmt.Errorf("promotion guard: the survivor's link %s->%s cannot prove what it applied (controller.rpo_budget %d): nothing moved, region %s unfenced; fail over with accept_rpo (regionctl failover --force --accept-rpo) to go ahead anyway", req.From, req.To, budget, req.From)
	case int64(link.LagTxns) > budget:
		return fmt.Errorf("promotion guard: the survivor still lacks %d transactions of %s after draining, over controller.rpo_budget %d: nothing moved, region %s unfenced; wait for the link to catch up, or fail over with accept_rpo (regionctl failover --force --accept-rpo) to lose them", link.LagTxns, req.From, budget, req.From)
	}
	return nil
}

// unfence lifts a region's fence in the controller and the routing table
// after a forced failover rolled back before moving anything.
func (d *Daemon) unfence(ctx context.Context, region, actor, why string) {
	if _, err := d.ctl.node.Execute(ctx, &controller.UnfenceRegion{Header: controller.Header{Actor: actor}, Region: region, Reason: why}); err != nil {
		d.log.Error("failover: cannot lift the fence in the controller", "region", region, "err", err)
	}
	if _, err := d.store.Update(ctx, router.Change{Kind: "unfence-region", Actor: actor, Reason: why}, func(t *router.Table) error {
		return t.UnfenceRegion(region)
	}); err != nil {
		d.log.Error("failover: cannot lift the fence in the routing table", "region", region, "err", err)
	}
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

// rpo says what region from committed that to never applied: exactly
// when from's binlog can be read now, else pending. The link's state as
// the failover found it is kept in etcd, so that a later completion
// (completeRPOs) counts against the same positions even if the region
// comes back and its capture ships more meanwhile.
func (d *Daemon) rpo(ctx context.Context, id, from, to string, link traffic.Link) controller.RPO {
	pending := controller.RPO{Pending: true, LastAppliedGTID: orNone(link.AppliedGTID)}
	ls, err := d.storedLink(ctx, from, to)
	if err != nil {
		d.log.Warn("failover: cannot read the survivor's link state; RPO pending", "failover", id, "err", err)
		return pending
	}
	b, _ := json.Marshal(ls)
	if _, err := d.etcd.Put(ctx, d.linkKey(id), string(b)); err != nil {
		d.log.Warn("failover: cannot keep the link state for the RPO", "failover", id, "err", err)
	}
	r, err := d.exactRPO(ctx, from, ls)
	if err != nil {
		d.log.Warn("failover: RPO pending", "failover", id, "region", from, "err", err)
		return pending
	}
	return r
}

// storedLink is the survivor's link from -> to as its database durably
// holds it (apply.StoredStatus), for every partition of from's topic (its
// capture checkpoint says how many): right whether the survivor's applier
// runs, holds the source or was just restarted (a leader that took a
// failover over finds it so), and whether it ever consumed the topic.
func (d *Daemon) storedLink(ctx context.Context, from, to string) (apply.LinkStatus, error) {
	cp, err := d.checkpoints(from).Load(ctx)
	if err != nil {
		return apply.LinkStatus{}, err
	}
	if cp.Partitions == 0 {
		return apply.LinkStatus{}, fmt.Errorf("region %s's topic partition count is unknown: its capture checkpoint does not say", from)
	}
	db, err := d.peers.db(to)
	if err != nil {
		return apply.LinkStatus{}, err
	}
	return apply.StoredStatus(ctx, db, from, to, cp.Partitions)
}

func (d *Daemon) linkKey(id string) string {
	return d.cfg.Deployment.Etcd.Prefix + "failovers/" + id + "/link"
}

func orNone(gtid string) string {
	if gtid == "" {
		return "none"
	}
	return gtid
}

// exactRPO reads region from's binlog past the survivor's link state ls.
func (d *Daemon) exactRPO(ctx context.Context, from string, ls apply.LinkStatus) (controller.RPO, error) {
	rc, err := binlogConfig(d.cfg.Deployment, d.dialer, from, rpoServerID+d.region.MySQL.ServerID)
	if err != nil {
		return controller.RPO{}, err
	}
	rc.Logger = d.log
	res, err := rpo.Compute(ctx, rpo.Config{Source: rc, Partitions: int32(len(ls.Partitions)), Link: ls, DialTimeout: 2 * time.Second})
	if err != nil {
		return controller.RPO{}, err
	}
	out := controller.RPO{LastAppliedGTID: orNone(res.LastAppliedGTID), LostGTIDs: res.LostGTIDs, LostCount: res.LostCount}
	for _, l := range res.Lost {
		for _, c := range l.Changes {
			if len(out.Changes) == maxRPOChanges {
				return out, nil
			}
			out.Changes = append(out.Changes, l.GTID+" "+c)
		}
	}
	return out, nil
}

// maxRPOChanges caps the row changes a failover record keeps.
const maxRPOChanges = 100

// rpoServerID offsets the replica id RPO readers register with, apart
// from capture's.
const rpoServerID = 100000

// completeRPOs, on the controller's leader, fills in every forced
// failover whose RPO was pending once the failed region's binlog can be
// read, every few seconds, until ctx ends.
func (d *Daemon) completeRPOs(ctx context.Context) error {
	return d.whileLeader(ctx, 3*time.Second, func(time.Time) {
		for _, f := range d.ctl.node.State().Failovers {
			if f.Kind != controller.KindForced || !f.RPO.Pending || f.Active() {
				continue
			}
			resp, err := d.etcd.Get(ctx, d.linkKey(f.ID))
			if err != nil || len(resp.Kvs) == 0 {
				continue
			}
			var ls apply.LinkStatus
			if json.Unmarshal(resp.Kvs[0].Value, &ls) != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			r, err := d.exactRPO(cctx, f.From, ls)
			if err == nil {
				_, err = d.ctl.node.Execute(cctx, &controller.CompleteRPO{Header: controller.Header{Actor: "controller"}, ID: f.ID, RPO: r})
			}
			cancel()
			if err != nil {
				d.log.Debug("failover: RPO still pending", "failover", f.ID, "err", err)
				continue
			}
			d.log.Warn("failover: RPO known", "failover", f.ID, "region", f.From, "lost", r.LostCount, "gtids", r.LostGTIDs)
		}
	})
}
