package regiond

import (
	"context"
	"time"

	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/failover"
)

// keepReadOnly keeps this region's MySQL read_only as the controller's
// state says (controller.State.ReadOnly; failover/readonly.go): ON while
// the region is fenced or failed over, OFF otherwise. It turns read_only
// ON as soon as this node's state says so, and OFF only once this node's
// state is current (controller.Node.Current) and has said so on two
// checks half a second apart: a MySQL that restarts read-only stays so
// until the controller confirms the region takes writes, and a failover's
// read_only set by the leader is not lifted on a state a moment old.
// Without a controller it does nothing.
func (d *Daemon) keepReadOnly(ctx context.Context) error {
	if d.ctl == nil {
		return nil
	}
	gauge := d.readOnlyGauge
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	writable := 0 // consecutive checks on which a current state said writable
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		node := d.ctl.node
		owns := false
		if t := d.router.Table(); t != nil {
			owns = t.OwnsBuckets(d.region.Name)
		}
		on, decided, why := node.State().ReadOnly(d.region.Name, owns)
		switch {
		case !decided:
			writable = 0
			continue // a planned failover's switch decides
		case on:
			writable = 0
		case node.Current(3 * time.Second):
			writable++
		default:
			writable = 0
			continue // not confirmed: leave MySQL as it is
		}
		if !on && writable < 2 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		changed, err := failover.SetReadOnly(cctx, d.db, on)
		cancel()
		if err != nil {
			d.log.Warn("cannot keep the region's MySQL read_only as the controller says", "read_only", on, "err", err)
			gauge.Set(-1)
			continue
		}
		if on {
			gauge.Set(1)
			d.readOnly.Store("on: " + why)
		} else {
			gauge.Set(0)
			d.readOnly.Store("off")
		}
		if !changed {
			continue
		}
		detail := map[string]string{"read_only": "OFF", "why": "the controller confirms the region takes writes"}
		if on {
			detail = map[string]string{"read_only": "ON", "why": why}
		}
		d.log.Info("region's MySQL read_only changed", "read_only", detail["read_only"], "why", detail["why"])
		_ = d.api.Audit(ctx, apiserver.AuditRecord{Time: time.Now().UTC(), Actor: "system", Action: "mysql.read_only", Target: d.region.Name, Result: "ok", Detail: detail})
	}
}
