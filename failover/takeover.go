package failover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router"
)

// takeOver, on the controller's leader, ends what a former leader left
// unfinished, every second until ctx ends:
//   - it aborts every traffic switch whose process is gone, so no bucket
//     stays write-forbidden for want of an operator;
//   - it finishes every failover still active in the controller that no
//     process here runs: its leader died or lost leadership midway. A
//     forced failover goes on from its last finished step; a planned one
//     or a failback switches the buckets still to move.
func (o *Orchestrator) takeOver(ctx context.Context) error {
	return o.node.WhileLeader(ctx, time.Second, func(since time.Time) {
		if reaped, err := o.switches.Reap(ctx, "controller"); err != nil {
			o.log.Warn("takeover: cannot look for switches left running", "err", err)
		} else if len(reaped) > 0 {
			o.log.Warn("takeover: aborted switches whose process was gone", "switches", len(reaped))
		}
		for _, f := range o.leftActive(ctx) {
			o.finish(ctx, f, since)
		}
	})
}

// leftActive returns the failovers active in the controller that no
// process here runs, once this leader has applied all its log (a former
// leader may have ended them in entries it has not applied yet).
func (o *Orchestrator) leftActive(ctx context.Context) []controller.FailoverRecord {
	left := func() []controller.FailoverRecord {
		var out []controller.FailoverRecord
		for _, f := range o.node.State().Failovers {
			if f.Active() && !o.running.has(f.ID) {
				out = append(out, f)
			}
		}
		return out
	}
	if len(left()) == 0 {
		return nil
	}
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := o.node.Barrier(bctx); err != nil {
		o.log.Warn("takeover: cannot catch up with the controller's log", "err", err)
		return nil
	}
	return left()
}

// finish carries failover f, left active by a former leader, to its end.
// since is when this node won the leadership.
func (o *Orchestrator) finish(ctx context.Context, f controller.FailoverRecord, since time.Time) {
	log := o.log.With("failover", f.ID, "kind", f.Kind, "from", f.From, "to", f.To)
	// A switch of the failover still running in a live process (a former
	// leader that lost leadership but not its etcd session) ends first.
	active, _, err := o.switches.List(ctx)
	if err != nil {
		log.Warn("takeover: cannot list switches", "err", err)
		return
	}
	for _, s := range active {
		if strings.Contains(s.Reason, f.ID) {
			log.Info("takeover: waiting for a switch of the failover still running", "switch", s.ID)
			return
		}
	}
	fr, cancel := o.newRecord(ctx, f, "controller")
	defer cancel()
	log.Warn("takeover: finishing a failover a former leader left unfinished", "steps", len(f.Steps))
	if _, err := o.execute(fr.ctx, &controller.StepFailover{Header: fr.h, ID: f.ID, Step: "take-over", Result: "ok",
		Detail: fmt.Sprintf("node %s leads the controller now and finishes the failover; its former leader stopped or lost leadership after %s", o.node.ID(), lastStep(f))}); err != nil {
		log.Warn("takeover: cannot record the take-over; trying again", "err", err)
		return
	}
	req := api.FailoverRequest{From: f.From, To: f.To, Kind: f.Kind, Reason: f.Reason, AcceptRPO: f.AcceptRPO}
	done := map[string]bool{}
	for _, s := range f.Steps {
		if s.Result == "failed" && s.Name != "drain" {
			// The former leader gave up at this step (a drain that falls
			// short is not the end) and did not live to record the end:
			// the failover rolled back.
			_, err = fr.end(fmt.Errorf("step %s failed: %s", s.Name, s.Detail), nil)
			if s.Name == "promotion guard" {
				o.unfence(fr.ctx, f.From, "controller", "promotion guard refused forced failover "+f.ID)
			}
			log.Warn("takeover: failover rolled back", "err", err)
			return
		}
		done[s.Name] = true
	}
	if wait := time.Until(since.Add(router.DefaultConfig().TTL + time.Second)); f.Kind == controller.KindPlanned && wait > 0 {
		// The router of a regiond that died with the former leader stays
		// registered until its lease ends; a switch started before would
		// wait for it in vain and abort.
		log.Info("takeover: waiting for the routers of a dead leader to drop out", "wait", wait.Round(time.Millisecond))
		select {
		case <-fr.ctx.Done():
		case <-time.After(wait):
		}
	}
	switch {
	case f.Kind == controller.KindForced:
		target, _, terr := o.remaining(fr.ctx, f.From, f.To)
		if terr != nil && !done["move"] {
			_, err = fr.end(terr, nil)
			break
		}
		_, err = o.forcedSteps(fr, req, target, done)
	case f.Undoes != "":
		before, perr := o.placementBefore(fr.ctx, f.Undoes)
		if perr == nil {
			perr = o.switchBack(fr, f.To, before, f.Reason, "controller")
		}
		_, err = fr.end(perr, nil)
	default:
		target, moving, perr := o.remaining(fr.ctx, f.From, f.To)
		if perr == nil && len(moving) > 0 {
			perr = o.switchOut(fr, f.From, target, moving, f.Reason, "controller")
		}
		_, err = fr.end(perr, nil)
	}
	if err != nil {
		log.Warn("takeover: failover rolled back", "err", err)
		return
	}
	log.Warn("takeover: failover finished")
}

// lastStep names the last step f recorded.
func lastStep(f controller.FailoverRecord) string {
	if len(f.Steps) == 0 {
		return "its start"
	}
	return "step " + f.Steps[len(f.Steps)-1].Name
}
