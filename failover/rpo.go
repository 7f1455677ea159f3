package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router/traffic"
)

// rpo says what region from committed that to never applied, and, with
// three regions or more, what every other survivor lacked of it: exactly
// when from's binlog can be read now, else pending. Each survivor's link
// state as the failover found it (held) is kept in etcd, so that a later
// completion (completeRPOs) and the failback count against the same
// positions even if the region comes back and its capture ships more
// meanwhile.
func (o *Orchestrator) rpo(ctx context.Context, id, from, to string, link traffic.Link) controller.RPO {
	pending := controller.RPO{Pending: true, LastAppliedGTID: orNone(link.AppliedGTID)}
	states := map[string]apply.LinkStatus{}
	for _, r := range o.survivors(from, to) {
		ls, err := o.storedLink(ctx, from, r)
		switch {
		case err != nil && r == to:
			o.log.Warn("failover: cannot read the survivor's link state; RPO pending", "failover", id, "region", r, "err", err)
			return pending
		case err != nil:
			// Held, it keeps its state until it is read (rpoNow).
			o.log.Warn("failover: cannot read a survivor's link state now; counted when the RPO is", "failover", id, "region", r, "err", err)
			continue
		}
		b, _ := json.Marshal(ls)
		if _, err := o.etcd.Put(ctx, o.linkKey(id, to, r), string(b)); err != nil {
			o.log.Warn("failover: cannot keep the link state for the RPO", "failover", id, "region", r, "err", err)
		}
		states[r] = ls
	}
	res, err := o.exactRPOs(ctx, from, to, states, time.Now())
	if err != nil {
		o.log.Warn("failover: RPO pending", "failover", id, "region", from, "err", err)
		return pending
	}
	return rpoRecord(to, res)
}

// survivors are the regions whose links from the failed region a forced
// failover keeps: to, which takes the buckets, first.
func (o *Orchestrator) survivors(from, to string) []string {
	out := []string{to}
	for _, r := range o.dep.RegionNames() {
		if r != from && r != to {
			out = append(out, r)
		}
	}
	return out
}

// storedLink is the survivor's link from -> to as its database durably
// holds it (apply.StoredStatus), for every partition of from's topic (its
// capture checkpoint says how many): right whether the survivor's applier
// runs, holds the source or was just restarted (a leader that took a
// failover over finds it so), and whether it ever consumed the topic.
func (o *Orchestrator) storedLink(ctx context.Context, from, to string) (apply.LinkStatus, error) {
	cp, err := o.checkpoints(from).Load(ctx)
	if err != nil {
		return apply.LinkStatus{}, err
	}
	if cp.Partitions == 0 {
		return apply.LinkStatus{}, fmt.Errorf("region %s's topic partition count is unknown: its capture checkpoint does not say", from)
	}
	db, err := o.repl.DB(to)
	if err != nil {
		return apply.LinkStatus{}, err
	}
	return apply.StoredStatus(ctx, db, from, to, cp.Partitions)
}

// linkKey is where failover id keeps survivor region's link state: to's
// (the region that took the buckets) as ever, another's beside it.
func (o *Orchestrator) linkKey(id, to, region string) string {
	k := o.dep.Etcd.Prefix + "failovers/" + id + "/link"
	if region != to {
		k += "/" + region
	}
	return k
}

func orNone(gtid string) string {
	if gtid == "" {
		return "none"
	}
	return gtid
}

// exactRPOs reads region from's binlog past each survivor's link state:
// to's first, which decides (its error is returned); another survivor
// whose count fails is left out (logged), so that it never keeps the RPO
// pending; a failback then refuses until it can be counted. since is
// when the survivors' link states were taken (rpo.Config.Since).
func (o *Orchestrator) exactRPOs(ctx context.Context, from, to string, states map[string]apply.LinkStatus, since time.Time) (map[string]rpo.Result, error) {
	rc, err := o.cfg.RPOSource(from)
	if err != nil {
		return nil, err
	}
	rc.Logger = o.log
	out := map[string]rpo.Result{}
	for _, r := range o.survivors(from, to) {
		ls, ok := states[r]
		if !ok {
			continue
		}
		res, err := rpo.Compute(ctx, rpo.Config{Source: rc, Partitions: int32(len(ls.Partitions)), Link: ls, DialTimeout: 2 * time.Second, Since: since})
		switch {
		case err != nil && r == to:
			return nil, err
		case err != nil:
			o.log.Warn("failover: what a survivor lacked cannot be counted now: left out of the RPO", "region", r, "err", err)
			continue
		}
		out[r] = res
	}
	return out, nil
}

// rpoRecord is the failover record's RPO of results: the lost
// transactions of to (which took the buckets), with the first rows they
// changed, and what every other survivor lacked.
func rpoRecord(to string, results map[string]rpo.Result) controller.RPO {
	res := results[to]
	out := controller.RPO{LastAppliedGTID: orNone(res.LastAppliedGTID), LostGTIDs: res.LostGTIDs, LostCount: res.LostCount, Uncounted: res.Uncounted}
	for _, l := range res.Lost {
		for _, c := range l.Changes {
			if len(out.Changes) < maxRPOChanges {
				out.Changes = append(out.Changes, l.GTID+" "+c)
			}
		}
	}
	for r, o := range results {
		if r == to {
			continue
		}
		if out.Others == nil {
			out.Others = map[string]controller.SurvivorRPO{}
		}
		out.Others[r] = controller.SurvivorRPO{LastAppliedGTID: orNone(o.LastAppliedGTID), LostGTIDs: o.LostGTIDs, LostCount: o.LostCount}
	}
	return out
}

// rpoNow counts again what region f.From committed past each survivor's
// link state kept at forced failover f (the same positions as f's RPO):
// the RPO plus whatever reached the region's MySQL since. f.To's state
// must be kept; another survivor's that was not (it did not answer then)
// is read from its database, where it has not moved since (the region's
// stream is held), and left out while it does not answer.
func (o *Orchestrator) rpoNow(ctx context.Context, f controller.FailoverRecord) (map[string]rpo.Result, error) {
	states := map[string]apply.LinkStatus{}
	for _, r := range o.survivors(f.From, f.To) {
		key := o.linkKey(f.ID, f.To, r)
		resp, err := o.etcd.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		if len(resp.Kvs) == 0 {
			if r == f.To {
				return nil, fmt.Errorf("the survivor's link state at failover %s is not kept (etcd %s)", f.ID, key)
			}
			ls, err := o.storedLink(ctx, f.From, r)
			if err != nil {
				o.log.Warn("failover: a survivor's link state cannot be read: left out of the RPO", "failover", f.ID, "region", r, "err", err)
				continue
			}
			states[r] = ls
			continue
		}
		var ls apply.LinkStatus
		if err := json.Unmarshal(resp.Kvs[0].Value, &ls); err != nil {
			return nil, fmt.Errorf("survivor %s's link state at failover %s: %w", r, f.ID, err)
		}
		states[r] = ls
	}
	return o.exactRPOs(ctx, f.From, f.To, states, f.StartedAt)
}

// maxRPOChanges caps the row changes a failover record keeps.
const maxRPOChanges = 100

// completeRPOs, on the controller's leader, fills in every forced
// failover whose RPO was pending once the failed region's binlog can be
// read, every few seconds, until ctx ends.
func (o *Orchestrator) completeRPOs(ctx context.Context) error {
	return o.node.WhileLeader(ctx, 3*time.Second, func(time.Time) {
		for _, f := range o.node.State().Failovers {
			if f.Kind != controller.KindForced || !f.RPO.Pending || f.Active() {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			res, err := o.rpoNow(cctx, f)
			r := rpoRecord(f.To, res)
			if err == nil {
				_, err = o.execute(cctx, &controller.CompleteRPO{Header: controller.Header{Actor: "controller"}, ID: f.ID, RPO: r})
			}
			cancel()
			if err != nil {
				o.log.Debug("failover: RPO still pending", "failover", f.ID, "err", err)
				continue
			}
			o.log.Warn("failover: RPO known", "failover", f.ID, "region", f.From, "lost", r.LostCount, "gtids", r.LostGTIDs)
		}
	})
}
