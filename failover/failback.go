package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
	"github.com/regionplatform/region/verify"
)

// Failback brings region req.To back after its last failover: it waits
// until the region has applied everything the survivor committed since,
// reports what the region committed that the survivor never applied (the
// forced failover's RPO: rows that diverged there), lifts the region's
// fence, and switches the buckets its cells owned before the failover
// back to them with traffic switches (write-forbidden windows, RPO 0).
func (o *Orchestrator) Failback(ctx context.Context, req api.FailbackRequest, actor string) (*api.FailoverReport, error) {
	start := time.Now()
	if _, ok := o.dep.Region(req.To); !ok {
		return nil, fmt.Errorf("to: region %q is not in the config: use one of %v", req.To, o.dep.RegionNames())
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, errors.New("reason: missing: say why (it goes into the failover history)")
	}
	last, ok := lastFailover(o.node.State(), req.To)
	if !ok {
		return nil, fmt.Errorf("to: region %s has no finished failover to undo: move buckets with regionctl switch instead", req.To)
	}
	if last.Kind == controller.KindForced && last.RPO.Pending {
		return nil, RetryLaterError{fmt.Errorf("to: the RPO of %s is still pending (region %s's binlog has not been read since): start the region's MySQL and wait until regionctl failover history shows it, then fail back", last.ID, req.To)}
	}
	before, err := o.placementBefore(ctx, last.ID)
	if err != nil {
		return nil, err
	}
	// The catch-up and the lifting of the fence come before the record
	// of the failback: the controller refuses to unfence a region that is
	// in a failover, and the fence is its own Raft entry.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	// How long each part before the record took goes into its steps.
	var took struct{ catchUp, recount, reconcile, converge, unfence time.Duration }
	mark := time.Now()
	lap := func(d *time.Duration) { now := time.Now(); *d, mark = now.Sub(mark), now }
	pos, err := o.repl.Position(rctx, last.To)
	if err == nil {
		err = o.caughtUp(rctx, last.To, req.To, pos)
	}
	lap(&took.catchUp)
	if err != nil {
		return nil, RetryLaterError{fmt.Errorf("region %s has not caught up with %s, nothing changed: %w", req.To, last.To, err)}
	}
	h := controller.Header{Actor: actor}
	// A forced failover's RPO stays lost: the returning region's rows
	// converge to the survivor's (whose newer writes stand), and the
	// survivor skips the lost transactions when it takes the region's
	// stream again.
	var repaired *verify.RepairResult
	var late *controller.RPO
	var reconciled []reconciled
	if st := o.node.State(); st.Regions[req.To].HeldBy != "" {
		// Everything the region committed past the survivor's link state
		// at the failover, counted again now: writes that reached its
		// MySQL after the RPO was computed (an account read_only does not
		// stop) are discarded with the RPO, not applied in the survivor
		// over newer rows after this region's rows are made the
		// survivor's.
		results, err := o.rpoNow(rctx, last)
		lap(&took.recount)
		if err != nil {
			return nil, RetryLaterError{fmt.Errorf("region %s's transactions since the failover cannot be counted again, nothing changed: %w", req.To, err)}
		}
		now := rpoRecord(last.To, results)
		discard := last.RPO.LostGTIDs
		if now.LostCount > last.RPO.LostCount {
			late, discard = &now, now.LostGTIDs
		}
		if reconciled, err = o.reconcileOthers(rctx, last, results); err != nil {
			return nil, err
		}
		lap(&took.reconcile)
		for _, r := range reconciled {
			// What another survivor lacked is discarded there too: its
			// rows are now last.To's.
			discard = strings.Trim(discard+","+results[r.region].LostGTIDs, ",")
		}
		if repaired, err = o.convergeTo(rctx, last.To, req.To, results[last.To]); err != nil {
			return nil, fmt.Errorf("region %s's rows could not be made the survivor's, nothing changed: %w", req.To, err)
		}
		lap(&took.converge)
		if _, err := o.execute(rctx, &controller.ReleaseRegion{Header: h, Region: req.To, Discard: discard}); err != nil {
			return nil, orRetry(fmt.Errorf("release region %s's stream in the controller: %w", req.To, err))
		}
	}
	if st := o.node.State(); st.Regions[req.To].Fenced {
		if _, err := o.execute(rctx, &controller.UnfenceRegion{Header: h, Region: req.To, Reason: "failback: " + req.Reason}); err != nil {
			return nil, orRetry(fmt.Errorf("lift the fence of %s in the controller: %w", req.To, err))
		}
	}
	if _, err := o.store.Update(rctx, router.Change{Kind: "unfence-region", Actor: actor, Reason: "failback of " + req.To + " after " + last.ID}, func(t *router.Table) error {
		return t.UnfenceRegion(req.To)
	}); err != nil {
		return nil, RetryLaterError{fmt.Errorf("lift the fence of %s in the routing table: %w", req.To, err)}
	}
	lap(&took.unfence)
	fr, cancelRec, err := o.beginFailover(ctx, start, controller.KindPlanned, api.FailoverRequest{From: last.To, To: req.To,
		Reason: fmt.Sprintf("failback of %s after %s: %s", req.To, last.ID, req.Reason)}, last.ID, actor)
	if err != nil {
		return nil, err
	}
	defer cancelRec()
	rep := fr.rep
	rep.RPO = last.RPO
	step := func(name string, err error, detail string) { fr.step(name, err, detail, nil) }
	end := func(err error) (*api.FailoverReport, error) { return fr.end(err, nil) }
	step("catch-up", nil, fmt.Sprintf("region %s applied %s's %s (%s)", req.To, last.To, pos, ms(took.catchUp)))
	div := "none: the survivor had applied everything"
	switch {
	case last.RPO.Pending:
		div = "unknown: the failover's RPO is still pending (region's binlog unread)"
	case last.RPO.LostCount > 0:
		div = fmt.Sprintf("%d transactions (%s) committed in %s after %s were never applied in %s", last.RPO.LostCount, last.RPO.LostGTIDs, req.To, last.RPO.LastAppliedGTID, last.To)
		if n := len(last.RPO.Changes); n > 0 {
			div += fmt.Sprintf("; rows that diverged (first %d): %s", n, strings.Join(last.RPO.Changes, "; "))
		}
	}
	if last.RPO.Uncounted != "" {
		div += "; and uncounted: " + last.RPO.Uncounted
	}
	if took.recount > 0 {
		div += fmt.Sprintf(" (counted again from %s's binlog: %s)", req.To, ms(took.recount))
	}
	step("divergence", nil, div)
	if late != nil {
		step("late writes", nil, fmt.Sprintf("%d transactions committed in %s after its RPO was computed (by an account read_only does not stop) are discarded with it: %s committed in %s past what %s applied; rows: %s",
			late.LostCount-last.RPO.LostCount, req.To, late.LostGTIDs, req.To, last.To, strings.Join(late.Changes, "; ")))
	}
	for _, r := range reconciled {
		step("reconcile "+r.region, nil, r.detail+" ("+ms(took.reconcile)+" for all)")
	}
	if repaired != nil {
		detail := fmt.Sprintf("%d rows of %s set to %s's in %s (the lost transactions are discarded: %s skips them)", len(repaired.Changes), req.To, last.To, ms(took.converge), last.To)
		if n := len(repaired.Skipped); n > 0 {
			detail += fmt.Sprintf("; %d rows changed meanwhile and were left to replication", n)
		}
		step("converge", nil, detail)
	}
	step("unfence", nil, fmt.Sprintf("region %s takes writes and buckets again (its stream released and its fence lifted in the controller and the routing table: %s)", req.To, ms(took.unfence)))
	o.readOnly(fr, req.To, false)
	return end(o.switchBack(fr, req.To, before, req.Reason, actor))
}

// switchBack moves every bucket whose cell lived in region before (the
// placement before the failover undone) and does not now back to that
// cell, with one traffic switch per cell, as steps "switch" of fr, and
// the global tables homed in region before back to it.
func (o *Orchestrator) switchBack(fr *record, region string, before *router.Table, reason, actor string) error {
	cur, _, err := o.store.Load(fr.ctx)
	if err != nil {
		return err
	}
	back := map[string][]topo.Bucket{}
	for b := 0; b < before.Buckets && b < cur.Buckets; b++ {
		was, now := before.Owner(topo.Bucket(b)), cur.Owner(topo.Bucket(b))
		if was.Region == region && now.Region != region {
			back[was.Cell] = append(back[was.Cell], topo.Bucket(b))
		}
	}
	cells := make([]string, 0, len(back))
	for c := range back {
		cells = append(cells, c)
	}
	sort.Strings(cells)
	// The global tables homed in region before go back with the first
	// cell's buckets (or alone, to the region).
	var tables []string
	for _, name := range before.GlobalsHomedIn(region) {
		if g, ok := cur.Global(name); ok && g.Home != region {
			tables = append(tables, name)
		}
	}
	if len(cells) == 0 && len(tables) > 0 {
		cells = []string{region}
	}
	rep := fr.rep
	for i, c := range cells {
		req := traffic.Request{Buckets: topo.FormatBuckets(back[c]), To: c, Reason: "failback " + rep.ID + ": " + reason, Actor: actor}
		if i == 0 {
			req.Tables = tables
		}
		rec, err := o.switches.Execute(fr.ctx, req)
		if rec != nil {
			rep.Switches = append(rep.Switches, *rec)
			rep.WriteForbiddenMS = max(rep.WriteForbiddenMS, rec.WriteForbiddenMS)
		}
		detail := fmt.Sprintf("%d buckets back to cell %s", len(back[c]), c)
		if len(req.Tables) > 0 {
			detail += fmt.Sprintf(", global tables %s back to region %s", strings.Join(req.Tables, ", "), region)
		}
		if rec != nil {
			detail += fmt.Sprintf(" (switch %s, write-forbidden %d ms)", rec.ID, rec.WriteForbiddenMS)
		}
		fr.step("switch", err, detail, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// lastFailover is the latest finished failover out of region.
func lastFailover(st *controller.State, region string) (controller.FailoverRecord, bool) {
	var best controller.FailoverRecord
	found := false
	for _, f := range st.Failovers {
		if f.From == region && f.State == controller.FailoverDone && f.Undoes == "" && (!found || f.StartedAt.After(best.StartedAt)) {
			best, found = f, true
		}
	}
	return best, found
}

// placementBefore is the routing table as it was just before failover id
// changed it: the version before the first whose change names it.
func (o *Orchestrator) placementBefore(ctx context.Context, id string) (*router.Table, error) {
	hist, err := o.store.History(ctx, 0)
	if err != nil {
		return nil, err
	}
	var first uint64
	for _, t := range hist { // newest first
		if strings.Contains(t.Change.Reason, id) {
			first = t.Epoch
		}
	}
	if first <= 1 {
		return nil, fmt.Errorf("the routing history has no change by failover %s: cannot tell which buckets to bring back", id)
	}
	return o.store.Version(ctx, first-1)
}

// convergeTo makes region to's rows equal to region from's where to's
// lost transactions (lost: what to committed that from never applied,
// counted at the failback) wrote them: from's images, written in to with
// the applier's marker, so that they are not published. Only those rows:
// with three regions, to applies a third region's writes while it is
// fenced, and a row of those that from has not applied yet would
// otherwise be "repaired" away in to. When the RPO lists fewer
// transactions or rows than it counts, every row is compared (the way of
// two regions, where to takes no writes).
func (o *Orchestrator) convergeTo(ctx context.Context, from, to string, lost rpo.Result) (*verify.RepairResult, error) {
	switch {
	case lost.Listed() && len(lost.Lost) == 0:
		return &verify.RepairResult{}, nil // nothing lost: nothing differs
	case lost.Listed():
		return o.repairRows(ctx, from, to, lost.Lost)
	}
	o.log.Warn("failback: the RPO lists fewer rows than it lost: comparing every row", "region", to, "lost", lost.LostCount, "listed", len(lost.Lost))
	return o.repairRows(ctx, from, to, nil)
}

// caughtUp waits, up to router.catch_up_timeout, until the link from ->
// to has applied GTID set pos.
func (o *Orchestrator) caughtUp(ctx context.Context, from, to, pos string) error {
	ctx, cancel := context.WithTimeout(ctx, o.dep.Router.CatchUpTimeout)
	defer cancel()
	for {
		l, err := o.repl.Link(ctx, from, to)
		if err == nil {
			if ok, cerr := o.repl.Covers(from, l.AppliedGTID, pos); cerr == nil && ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("link %s->%s did not apply %s within router.catch_up_timeout (last seen: %+v, %v)", from, to, pos, l, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ms formats d in whole milliseconds, for step details.
func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// orRetry marks a controller command's failure as one that time may lift
// (no leader, an election, a commit that timed out): every step before it
// may run again. A command the controller refused stays a refusal.
func orRetry(err error) error {
	if errors.Is(err, controller.ErrBadCommand) || errors.Is(err, controller.ErrRejected) {
		return err
	}
	return RetryLaterError{err}
}
