package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/api"
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
func (o *Orchestrator) forcedFailover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	start := time.Now()
	target, _, err := o.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	fr, cancel, err := o.beginFailover(ctx, start, controller.KindForced, req, "", actor)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return o.forcedSteps(fr, req, target, nil)
}

// forcedSteps carries out forced failover fr, skipping the steps in done
// (the ones a former leader finished: a new leader takes over from there;
// each step may also run twice safely), and records its end.
func (o *Orchestrator) forcedSteps(fr *record, req api.FailoverRequest, target string, done map[string]bool) (*api.FailoverReport, error) {
	rctx, rep, h, actor := fr.ctx, fr.rep, fr.h, fr.h.Actor
	step, end := fr.step, fr.end
	why := fmt.Sprintf("forced failover %s: %s", rep.ID, req.Reason)

	// 1. Fence: the controller's state first, then the routing table.
	if !done["fence"] {
		if _, err := o.execute(rctx, &controller.FenceRegion{Header: h, Region: req.From, Reason: why}); err != nil {
			step("fence", err, "controller state", nil)
			return end(err, nil)
		}
		ft, err := o.store.Update(rctx, router.Change{Kind: "fence-region", Actor: actor, Reason: why}, func(t *router.Table) error {
			return t.FenceRegion(req.From, why)
		})
		if err != nil {
			step("fence", err, "routing table", nil)
			return end(err, nil)
		}
		step("fence", nil, fmt.Sprintf("region %s fenced at routing epoch %d", req.From, ft.Epoch), nil)
		o.readOnly(fr, req.From, true)
	}
	fenceAt := time.Now()

	// 2. Drain: the survivor applies what reached Kafka before the loss.
	var link traffic.Link
	if done["hold"] {
		link, _ = o.repl.Link(rctx, req.From, req.To) // held: it applies nothing more of req.From
	} else {
		var err error
		var others []string
		link, others, err = o.drainAll(rctx, req.From, req.To)
		detail := fmt.Sprintf("link %s->%s applied %s (%d behind what capture published)", req.From, req.To, orNone(link.AppliedGTID), link.LagTxns)
		if len(others) > 0 {
			detail += "; meanwhile " + strings.Join(others, ", ")
		}
		step("drain", err, detail, nil)
		if err := promotionGuard(o.dep.Controller.RPOBudget, req, link); err != nil {
			step("promotion guard", err, "", nil)
			rep, err := end(err, nil)
			o.unfence(rctx, req.From, actor, "promotion guard refused forced failover "+rep.ID)
			o.readOnly(fr, req.From, false)
			return rep, err
		}
		// Hold: from here on nothing more of the region is applied
		// anywhere. What it committed that the survivor lacks is the RPO;
		// applied when the region returns, it would overwrite the
		// survivor's newer writes.
		if _, err := o.execute(rctx, &controller.HoldRegion{Header: h, Region: req.From, Failover: rep.ID}); err != nil {
			step("hold", err, "", nil)
			return end(err, nil)
		}
		step("hold", nil, fmt.Sprintf("every region holds %s's stream until a failback releases it", req.From), nil)
		o.awaitHeld(rctx, req.From, o.survivors(req.From, req.To))
	}

	// 3. Move the buckets: serving from the survivor's cell now (whose
	// MySQL takes writes: it may have been failed over itself before).
	if !done["move"] {
		o.readOnly(fr, req.To, false)
		n := 0
		mt, err := o.store.Update(rctx, router.Change{Kind: "failover", Actor: actor, Reason: why}, func(t *router.Table) error {
			var merr error
			n, merr = t.MoveRegion(req.From, target)
			return merr
		})
		if err != nil {
			step("move", err, "routing table", nil)
			if _, rerr := o.execute(rctx, &controller.ReleaseRegion{Header: h, Region: req.From}); rerr != nil {
				o.log.Error("failover: cannot release the region's stream after the move failed", "region", req.From, "err", rerr)
			}
			return end(err, nil)
		}
		rep.WriteForbiddenMS = time.Since(fenceAt).Milliseconds()
		step("move", nil, fmt.Sprintf("%d buckets serve from cell %s at routing epoch %d", n, target, mt.Epoch), nil)
	}

	// 4. RPO: exact when the failed region's binlog answers, else pending.
	r := o.rpo(rctx, rep.ID, req.From, req.To, link)
	return end(nil, &r)
}

// awaitHeld waits (up to a second) until every survivor's link from
// region reports its stream held: a link that still receives messages
// holds at the next one, a link whose source is gone receives none and
// applies nothing more anyway.
func (o *Orchestrator) awaitHeld(ctx context.Context, from string, survivors []string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, to := range survivors {
		for {
			if l, err := o.repl.Link(ctx, from, to); err == nil && (l.State == "held" || l.State != "running") {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// promotionGuard refuses a forced failover that would leave the survivor
// more than budget (controller.rpo_budget) transactions behind, unless the request
// accepts it. A link whose applied position is unknown cannot prove its
// lag and counts as over budget.
func promotionGuard(budget int64, req api.FailoverRequest, link traffic.Link) error {
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
func (o *Orchestrator) unfence(ctx context.Context, region, actor, why string) {
	if _, err := o.execute(ctx, &controller.UnfenceRegion{Header: controller.Header{Actor: actor}, Region: region, Reason: why}); err != nil {
		o.log.Error("failover: cannot lift the fence in the controller", "region", region, "err", err)
	}
	if _, err := o.store.Update(ctx, router.Change{Kind: "unfence-region", Actor: actor, Reason: why}, func(t *router.Table) error {
		return t.UnfenceRegion(region)
	}); err != nil {
		o.log.Error("failover: cannot lift the fence in the routing table", "region", region, "err", err)
	}
}

// drainAll drains the link from -> to (drain) and, meanwhile, every
// other survivor's link from the region, for no longer: the less they
// lack, the fewer rows the failback reconciles. It returns to's link and
// a line per other link as it was then.
func (o *Orchestrator) drainAll(ctx context.Context, from, to string) (traffic.Link, []string, error) {
	others := o.survivors(from, to)[1:]
	octx, cancel := context.WithCancel(ctx)
	lines := make([]string, len(others))
	var wg sync.WaitGroup
	for i, r := range others {
		wg.Go(func() {
			l, err := o.drain(octx, from, r)
			lines[i] = fmt.Sprintf("link %s->%s applied %s (%d behind)", from, r, orNone(l.AppliedGTID), l.LagTxns)
			if err != nil {
				lines[i] += ", not drained"
			}
		})
	}
	link, err := o.drain(ctx, from, to)
	cancel()
	wg.Wait()
	return link, lines, err
}

// drain waits, up to router.catch_up_timeout, until the link from -> to
// has applied everything capture published and everything its Kafka
// partitions hold (capture's checkpoint can be a moment older than what
// Kafka acknowledged: those transactions would count in the RPO for
// nothing); it returns the link as it was last seen.
func (o *Orchestrator) drain(ctx context.Context, from, to string) (traffic.Link, error) {
	ctx, cancel := context.WithTimeout(ctx, o.dep.Router.CatchUpTimeout)
	defer cancel()
	var last traffic.Link
	var lastErr error
	for {
		l, err := o.repl.Link(ctx, from, to)
		if err == nil {
			last = l
			if l.LagTxns == 0 && l.AppliedGTID != "" && l.Consumed {
				return l, nil
			}
			lastErr = fmt.Errorf("link %s->%s is %s, %d transactions behind (all of Kafka's applied: %v)", from, to, l.State, l.LagTxns, l.Consumed)
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
