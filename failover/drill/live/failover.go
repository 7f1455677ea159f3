package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/drill"
)

// Switchover asks the controller for a planned failover of region.
func (a *actions) Switchover(ctx context.Context, region, to string) (drill.SwitchoverResult, error) {
	res := drill.SwitchoverResult{StartedAt: time.Now().UTC()}
	c, err := a.api(ctx)
	if err != nil {
		return res, err
	}
	// A failback's probe is a user the region serves now: buckets moved
	// before the drill stay where they are.
	probe, err := a.probeUser(ctx, region, false)
	if err != nil {
		return res, err
	}
	a.movedProbe[region] = probe
	res.StartedAt = time.Now().UTC()
	rep, err := c.Failover(ctx, api.FailoverRequest{
		From: region, To: to, Kind: controller.KindPlanned, Reason: "drill " + a.drillID})
	res.EndedAt = time.Now().UTC()
	if rep != nil {
		err = nil // rolled back: the report says so below
	}
	if err != nil {
		return res, fmt.Errorf("planned failover: %w", err)
	}
	res.WriteForbidden = time.Duration(rep.WriteForbiddenMS) * time.Millisecond
	res.RPO = rep.RPO.LostCount
	for _, sw := range rep.Switches {
		for _, cell := range sw.From {
			res.Cells = append(res.Cells, drill.CellResult{Cell: cell, From: region, To: sw.ToRegion,
				WriteForbidden: time.Duration(sw.WriteForbiddenMS) * time.Millisecond})
		}
		for _, s := range sw.Steps {
			r := "ok"
			if !s.OK {
				r = "failed"
			}
			res.Events = append(res.Events, drill.Event{At: s.End, Action: fmt.Sprintf("switch %s: %s %s", sw.ID, s.Name, s.Detail), Actor: "controller", Result: r})
		}
	}
	res.Events = append(res.Events, drill.Event{At: res.EndedAt, Action: fmt.Sprintf("planned failover %s of region %s to %s %s", rep.ID, rep.From, rep.To, rep.State), Actor: "controller", Result: rep.State})
	if rep.State != controller.FailoverDone {
		return res, fmt.Errorf("planned failover %s ended %s: %s", rep.ID, rep.State, rep.Error)
	}
	return res, nil
}

// Failover injects the fault into region (kill: its processes, lab only;
// fence: none, the forced failover fences it), waits (bounded) for the
// controller to declare it failed, forces its cells over and measures
// when its users can write again.
func (a *actions) Failover(ctx context.Context, region, to, mode string) (drill.FailoverResult, error) {
	var res drill.FailoverResult
	survivor := to
	for _, c := range a.cfg.Cells {
		if survivor == "" && c.Region == region {
			survivor = c.Standby
		}
	}
	sr, ok := a.cfg.Region(survivor)
	if !ok || survivor == region {
		return res, fmt.Errorf("no surviving region to take region %s's cells: name one in the step's to", region)
	}
	probe, perr := a.probeUser(ctx, region, false)
	if perr != nil {
		return res, perr
	}
	a.movedProbe[region] = probe

	res.FaultAt = time.Now().UTC()
	switch mode {
	case drill.ModeKill:
		if a.lab == nil {
			return res, errors.New("mode kill needs a lab (--dir): it kills the region's processes")
		}
		if err := a.lab.Kill(ctx, region); err != nil {
			return res, fmt.Errorf("kill region %s: %w", region, err)
		}
		a.killed[region] = true
	case drill.ModeFence:
	default:
		return res, fmt.Errorf("target mode %q: use kill or fence", mode)
	}

	// Users of the region can write again once a survivor's app serves
	// them: the probe measures it from the fault on.
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	type probed struct {
		at  time.Time
		err error
	}
	restored := make(chan probed, 1)
	if probe != 0 {
		go func() {
			at, err := a.load.Probe(pctx, probe, func(r string) bool { return r != "" && r != region })
			restored <- probed{at, err}
		}()
	}

	if mode == drill.ModeKill {
		res.DetectedAt = a.detect(ctx, sr.URL, region)
		if res.DetectedAt.IsZero() {
			res.Events = append(res.Events, drill.Event{At: time.Now().UTC(), Action: fmt.Sprintf("region %s not declared failed within %s: detection not measured; forcing the failover anyway", region, detectionWait), Actor: "drill runner", Result: "not detected"})
		}
	} else {
		res.Events = append(res.Events, drill.Event{At: res.FaultAt, Action: fmt.Sprintf("fence mode: region %s keeps running, the forced failover fences it; detection is not measured", region), Actor: "drill runner", Result: "ok"})
	}

	rep, err := a.c.At(sr.URL).Failover(ctx, api.FailoverRequest{
		From: region, To: survivor, Kind: controller.KindForced, Reason: "drill " + a.drillID})
	answered := time.Now().UTC()
	if rep != nil {
		err = nil // rolled back: the report says so below
	}
	if err != nil {
		return res, fmt.Errorf("forced failover: %w", err)
	}
	res.Events = append(res.Events, drill.Event{At: answered, Action: fmt.Sprintf("forced failover %s of region %s to %s %s in %d ms", rep.ID, region, rep.To, rep.State, rep.DurationMS), Actor: "controller", Result: rep.State})
	if rep.State != controller.FailoverDone {
		return res, fmt.Errorf("forced failover %s ended %s: %s", rep.ID, rep.State, rep.Error)
	}
	res.RPO, res.LostGTIDs, res.RPOPending = rep.RPO.LostCount, rep.RPO.LostGTIDs, rep.RPO.Pending
	if rep.RPO.Pending {
		res.PendingReason = fmt.Sprintf("not counted yet by the controller (region %s's binlog not read); the survivor applied up to %s; regionctl failover history shows the count once it is complete", region, rep.RPO.LastAppliedGTID)
	}
	a.rpoLost += rep.RPO.LostCount
	if rep.RPO.Pending {
		a.pendingRPO = append(a.pendingRPO, rep.ID)
	}
	res.Cells = []drill.CellResult{}
	for _, c := range a.cfg.Cells {
		if c.Region == region {
			res.Cells = append(res.Cells, drill.CellResult{Cell: c.Name, From: region, To: rep.To,
				WriteForbidden: time.Duration(rep.WriteForbiddenMS) * time.Millisecond, RPO: rep.RPO.LostCount})
		}
	}

	if probe == 0 {
		res.RestoredAt = answered
		res.Events = append(res.Events, drill.Event{At: answered, Action: "service restored measured as the forced failover's answer (no probe user outside a lab)", Actor: "drill runner", Result: "ok"})
		return res, nil
	}
	var p probed
	select {
	case p = <-restored:
	case <-time.After(restoreWait):
		stopProbe()
		p = <-restored
	}
	if p.err != nil {
		return res, fmt.Errorf("within %s of the failover, service is not restored: %w; look at regionctl route get --user %d", restoreWait, p.err, probe)
	}
	res.RestoredAt = p.at
	for i := range res.Cells {
		res.Cells[i].RTO = res.RestoredAt.Sub(res.FaultAt)
	}
	return res, nil
}

// detect polls the survivor's controller until it declares region
// failed; the zero time when it does not within detectionWait.
func (a *actions) detect(ctx context.Context, survivorURL, region string) time.Time {
	ctx, cancel := context.WithTimeout(ctx, detectionWait)
	defer cancel()
	for {
		if cs, err := a.c.At(survivorURL).Controller(ctx); err == nil {
			for _, r := range cs.Regions {
				if r.Region == region && r.Failed {
					if !r.FailedAt.IsZero() {
						return r.FailedAt.UTC()
					}
					return time.Now().UTC()
				}
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probeUser returns a user outside the ledger, with a loan, whose writes
// go to region: now (routing table) or, with home, in the deployment's
// starting placement (where a failback brings it). 0 outside a lab.
func (a *actions) probeUser(ctx context.Context, region string, home bool) (int64, error) {
	if a.lab == nil {
		return 0, nil
	}
	c, err := a.api(ctx)
	if err != nil {
		return 0, err
	}
	for u := a.probeBase; u < a.probeBase+200; u++ {
		at := ""
		if home {
			at = a.lab.HomeRegion(u)
		} else {
			ra, err := c.Route(ctx, strconv.FormatInt(u, 10))
			if err != nil {
				return 0, fmt.Errorf("find a probe user of region %s: %w", region, err)
			}
			at = ra.Region
		}
		if at != region {
			continue
		}
		if !a.opened[u] {
			// Every region must hold the user before a fault, or the
			// survivor could never serve it (its creation would be in the
			// RPO, and discarded): Open waits for that.
			if err := a.load.Open(ctx, u); err != nil {
				return 0, fmt.Errorf("open the probe user of region %s: %w", region, err)
			}
			a.opened[u] = true
		}
		return u, nil
	}
	return 0, fmt.Errorf("no user among %d..%d is served by region %s: it owns no buckets; check regionctl route show", a.probeBase, a.probeBase+199, region)
}

// Failback starts a killed region again (lab), waits for its regiond,
// and asks the controller to move its cells home.
func (a *actions) Failback(ctx context.Context, region string) (drill.FailbackResult, error) {
	res := drill.FailbackResult{StartedAt: time.Now().UTC()}
	r, ok := a.cfg.Region(region)
	if !ok {
		return res, fmt.Errorf("region %q is not in the config", region)
	}
	if a.killed[region] {
		fmt.Fprintf(a.progress, "drill %s: starting region %s again\n", a.drillID, region)
		if err := a.lab.Start(ctx, region); err != nil {
			return res, fmt.Errorf("start region %s again: %w", region, err)
		}
		if err := a.healthy(ctx, r.URL); err != nil {
			return res, fmt.Errorf("region %s's regiond after its restart: %w", region, err)
		}
		delete(a.killed, region)
		res.Events = append(res.Events, drill.Event{At: time.Now().UTC(), Action: fmt.Sprintf("region %s started again, its regiond answers", region), Actor: "drill runner", Result: "ok"})
	}
	// The probe is a user the region served before its failover: its
	// bucket is one the failback brings back, wherever the routing had
	// moved buckets before (the starting placement need not hold).
	probe := a.movedProbe[region]
	if a.lab != nil && probe == 0 {
		var err error
		if probe, err = a.probeUser(ctx, region, true); err != nil {
			return res, err
		}
	}
	c, err := a.api(ctx)
	if err != nil {
		return res, err
	}
	// A killed region's RPO is counted once its binlog answers again, and
	// it must catch up: the controller refuses the failback (503) until
	// then.
	rep, err := a.failback(ctx, c, region)
	for deadline := time.Now().Add(rpoWait); errors.Is(err, errTooEarly) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Second):
		}
		rep, err = a.failback(ctx, c, region)
	}
	answered := time.Now().UTC()
	if err != nil {
		res.Events = append(res.Events, drill.Event{At: answered, Action: fmt.Sprintf("failback of region %s refused: %v", region, err), Actor: "controller", Result: "failed"})
		return res, err
	}
	res.Events = append(res.Events, drill.Event{At: answered, Action: fmt.Sprintf("failback %s of region %s %s in %d ms", rep.ID, region, rep.State, rep.DurationMS), Actor: "controller", Result: rep.State})
	if rep.State != controller.FailoverDone {
		return res, fmt.Errorf("failback %s ended %s: %s", rep.ID, rep.State, rep.Error)
	}
	res.WriteForbidden = time.Duration(rep.WriteForbiddenMS) * time.Millisecond
	for _, sw := range rep.Switches {
		for _, cell := range sw.From {
			res.Cells = append(res.Cells, drill.CellResult{Cell: sw.To, From: a.cellRegion(cell), To: region,
				WriteForbidden: time.Duration(sw.WriteForbiddenMS) * time.Millisecond})
		}
	}
	res.RestoredAt = answered
	if probe != 0 {
		pctx, cancel := context.WithTimeout(ctx, restoreWait)
		at, err := a.load.Probe(pctx, probe, func(r string) bool { return r == region })
		cancel()
		if err != nil {
			return res, fmt.Errorf("after the failback, user %d (homed in region %s) is not served there: %w", probe, region, err)
		}
		res.RestoredAt = at
	}
	for i := range res.Cells {
		res.Cells[i].RTO = res.RestoredAt.Sub(res.StartedAt)
	}
	return res, nil
}

// completedRPOs adds the counts of the forced failovers whose RPO was
// pending when they answered and is complete now (a failback waits for
// it): those writes are lost, as reported.
func (a *actions) completedRPOs(ctx context.Context) {
	if len(a.pendingRPO) == 0 {
		return
	}
	c, err := a.api(ctx)
	if err != nil {
		return
	}
	fos, err := c.Failovers(ctx)
	if err != nil {
		return
	}
	still := a.pendingRPO[:0]
	for _, id := range a.pendingRPO {
		done := false
		for _, f := range fos {
			if f.ID == id && !f.RPO.Pending {
				a.rpoLost += f.RPO.LostCount
				done = true
			}
		}
		if !done {
			still = append(still, id)
		}
	}
	a.pendingRPO = still
}

// cellRegion is the region a cell lives in ("" when unknown).
func (a *actions) cellRegion(cell string) string {
	for _, c := range a.cfg.Cells {
		if c.Name == cell {
			return c.Region
		}
	}
	return ""
}

// failback asks c for a failback of region: errTooEarly while the
// controller refuses it for now, errFailbackNotBuilt when regiond has no
// such endpoint. A failback that rolled back comes back with its report
// and no error.
func (a *actions) failback(ctx context.Context, c *client.Client, region string) (*api.FailoverReport, error) {
	rep, err := c.Failback(ctx, api.FailbackRequest{To: region, Reason: "drill " + a.drillID})
	var e *client.Error
	switch {
	case rep != nil:
		return rep, nil
	case !errors.As(err, &e):
		return nil, err
	case e.StatusCode == http.StatusNotImplemented, (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusMethodNotAllowed) &&
		(e.Message == "" || strings.Contains(e.Message, "no such endpoint")):
		return nil, fmt.Errorf("%w (%s)", errFailbackNotBuilt, e.Status)
	case e.StatusCode == http.StatusServiceUnavailable && e.Message != "":
		return nil, fmt.Errorf("%w: %s", errTooEarly, e.Message)
	}
	return nil, err
}

// healthy waits (up to a minute) until the regiond at apiURL answers
// /healthz.
func (a *actions) healthy(ctx context.Context, apiURL string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := a.c.At(apiURL).Healthz(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s/healthz within a minute (last: %v): look at its log in the lab's logs/", apiURL, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
