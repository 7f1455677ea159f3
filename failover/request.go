package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// Failover checks the request and carries it out; call it on the
// controller's leader. A nil report with an error means bad input:
// nothing was done. A report with an error is a failover that rolled
// back.
func (o *Orchestrator) Failover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	dep := o.dep
	if _, ok := dep.Region(req.From); !ok {
		return nil, fmt.Errorf("from: region %q is not in the config: use one of %v", req.From, dep.RegionNames())
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, errors.New("reason: missing: say why (it goes into the failover history)")
	}
	if req.To == "" {
		for _, c := range dep.Cells {
			if c.Region == req.From {
				req.To = c.Standby
				break
			}
		}
	}
	if _, ok := dep.Region(req.To); !ok || req.To == req.From {
		return nil, fmt.Errorf("to: %q is not another region: use one of %v but %s", req.To, dep.RegionNames(), req.From)
	}
	switch req.Kind {
	case controller.KindPlanned:
		return o.plannedFailover(ctx, req, actor)
	case controller.KindForced:
		return o.forcedFailover(ctx, req, actor)
	}
	return nil, fmt.Errorf("kind: %q: use planned or forced", req.Kind)
}

// plannedFailover switches every bucket whose cell lives in req.From to a
// cell of req.To, one traffic switch per target cell: RPO 0 by
// construction, every step a Raft log entry first.
func (o *Orchestrator) plannedFailover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	start := time.Now()
	target, moving, err := o.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	fr, cancel, err := o.beginFailover(ctx, start, controller.KindPlanned, req, "", actor)
	if err != nil {
		return nil, err
	}
	defer cancel()
	o.readOnly(fr, req.To, false) // it may have been failed over itself before
	err = o.switchOut(fr, req.From, target, moving, req.Reason, actor)
	if err != nil {
		o.readOnly(fr, req.From, false)
	}
	return fr.end(err, nil)
}

// switchOut moves the buckets moving out of region from to cell target,
// and the global tables homed in from to target's region, with one
// traffic switch, as step "switch" of failover fr.
func (o *Orchestrator) switchOut(fr *record, from, target string, moving []topo.Bucket, reason, actor string) error {
	t, _, err := o.store.Load(fr.ctx)
	if err != nil {
		fr.step("switch", err, "routing table", nil)
		return err
	}
	tables := t.GlobalsHomedIn(from)
	// The region's MySQL turns read-only once the routers honour the
	// fence and before the wait for replication, as Vitess denies writes
	// on the source before it waits for the target: the fence stops the
	// gateways' writes, read_only the rest.
	fenced := func(ctx context.Context) (string, error) {
		o.readOnly(fr, from, true)
		return "region " + from + "'s MySQL read-only (see the failover's step read-only)", nil
	}
	rec, err := o.switches.Execute(fr.ctx, traffic.Request{Buckets: topo.FormatBuckets(moving), Tables: tables, To: target,
		Reason: fmt.Sprintf("planned failover %s of region %s: %s", fr.rep.ID, from, reason), Actor: actor, Fenced: fenced})
	detail := "switch"
	if rec != nil {
		fr.rep.Switches = append(fr.rep.Switches, *rec)
		fr.rep.WriteForbiddenMS = rec.WriteForbiddenMS
		detail = fmt.Sprintf("switch %s: %d buckets to cell %s, %s, write-forbidden %d ms", rec.ID, rec.Count, target, rec.State, rec.WriteForbiddenMS)
		if len(rec.Tables) > 0 {
			detail += fmt.Sprintf("; global tables %s now homed in its region", strings.Join(rec.Tables, ", "))
		}
	}
	fr.step("switch", err, detail, nil)
	return err
}

// failoverPlan finds the cell of req.To that takes the buckets and the
// buckets whose cell lives in req.From.
func (o *Orchestrator) failoverPlan(ctx context.Context, req api.FailoverRequest) (string, []topo.Bucket, error) {
	target, moving, err := o.remaining(ctx, req.From, req.To)
	if err == nil && len(moving) == 0 {
		err = fmt.Errorf("from: region %s owns no buckets: nothing to fail over", req.From)
	}
	return target, moving, err
}

// remaining finds the cell of region to that takes the buckets and the
// buckets whose cell still lives in region from.
func (o *Orchestrator) remaining(ctx context.Context, from, to string) (string, []topo.Bucket, error) {
	t, _, err := o.store.Load(ctx)
	if err != nil {
		return "", nil, err
	}
	target := ""
	for _, c := range t.Cells {
		if c.Region == to {
			target = c.Name
			break
		}
	}
	if target == "" {
		return "", nil, fmt.Errorf("to: region %s has no cell to take the buckets", to)
	}
	if r, _ := t.Region(to); r.Fenced {
		return "", nil, fmt.Errorf("to: region %s is fenced (%s): fail back into it first", to, r.Reason)
	}
	var moving []topo.Bucket
	for b := 0; b < t.Buckets; b++ {
		if o := t.Owner(topo.Bucket(b)); o.Region == from {
			moving = append(moving, topo.Bucket(b))
		}
	}
	return target, moving, nil
}
