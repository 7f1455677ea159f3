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

// rpo says what region from committed that to never applied: exactly
// when from's binlog can be read now, else pending. The link's state as
// the failover found it is kept in etcd, so that a later completion
// (completeRPOs) counts against the same positions even if the region
// comes back and its capture ships more meanwhile.
func (o *Orchestrator) rpo(ctx context.Context, id, from, to string, link traffic.Link) controller.RPO {
	pending := controller.RPO{Pending: true, LastAppliedGTID: orNone(link.AppliedGTID)}
	ls, err := o.storedLink(ctx, from, to)
	if err != nil {
		o.log.Warn("failover: cannot read the survivor's link state; RPO pending", "failover", id, "err", err)
		return pending
	}
	b, _ := json.Marshal(ls)
	if _, err := o.etcd.Put(ctx, o.linkKey(id), string(b)); err != nil {
		o.log.Warn("failover: cannot keep the link state for the RPO", "failover", id, "err", err)
	}
	r, err := o.exactRPO(ctx, from, ls)
	if err != nil {
		o.log.Warn("failover: RPO pending", "failover", id, "region", from, "err", err)
		return pending
	}
	return r
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

func (o *Orchestrator) linkKey(id string) string {
	return o.dep.Etcd.Prefix + "failovers/" + id + "/link"
}

func orNone(gtid string) string {
	if gtid == "" {
		return "none"
	}
	return gtid
}

// exactRPO reads region from's binlog past the survivor's link state ls.
func (o *Orchestrator) exactRPO(ctx context.Context, from string, ls apply.LinkStatus) (controller.RPO, error) {
	rc, err := o.cfg.RPOSource(from)
	if err != nil {
		return controller.RPO{}, err
	}
	rc.Logger = o.log
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

// rpoNow counts again what region f.From committed past the survivor's
// link state kept at forced failover f (the same positions as f's RPO):
// the RPO plus whatever reached the region's MySQL since.
func (o *Orchestrator) rpoNow(ctx context.Context, f controller.FailoverRecord) (controller.RPO, error) {
	resp, err := o.etcd.Get(ctx, o.linkKey(f.ID))
	if err != nil {
		return controller.RPO{}, err
	}
	if len(resp.Kvs) == 0 {
		return controller.RPO{}, fmt.Errorf("the survivor's link state at failover %s is not kept (etcd %s)", f.ID, o.linkKey(f.ID))
	}
	var ls apply.LinkStatus
	if err := json.Unmarshal(resp.Kvs[0].Value, &ls); err != nil {
		return controller.RPO{}, fmt.Errorf("the survivor's link state at failover %s: %w", f.ID, err)
	}
	return o.exactRPO(ctx, f.From, ls)
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
			r, err := o.rpoNow(cctx, f)
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
