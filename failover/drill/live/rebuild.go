package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/verify"
)

// Rebuild copies every replicated table into a region a kill-mode
// failover stopped, from donor, as regionctl region rebuild does: the
// region's MySQL is started alone (its regiond stays stopped until the
// failback starts the rest), its tables are kept aside and copied from
// the donor while the drill's load goes on in the survivors, and the
// rebuild is recorded in the controller.
func (a *actions) Rebuild(ctx context.Context, region, donor string) (drill.RebuildResult, error) {
	res := drill.RebuildResult{StartedAt: time.Now().UTC()}
	if a.lab == nil || !a.killed[region] {
		return res, fmt.Errorf("region %s was not killed by this drill: a rebuild step follows a kill-mode failover of the same region", region)
	}
	dr, ok := a.cfg.Region(donor)
	if !ok {
		return res, fmt.Errorf("donor %q is not in the config", donor)
	}
	if err := a.lab.StartMySQL(ctx, region); err != nil {
		return res, fmt.Errorf("start region %s's MySQL alone: %w", region, err)
	}
	res.Events = append(res.Events, drill.Event{At: time.Now().UTC(), Action: fmt.Sprintf("region %s's MySQL started alone (its regiond stays stopped)", region), Actor: "drill runner", Result: "ok"})
	dDB, err := dial.MySQL(a.cfg, donor)
	if err != nil {
		return res, err
	}
	defer dDB.Close()
	tDB, err := dial.MySQL(a.cfg, region)
	if err != nil {
		return res, err
	}
	defer tDB.Close()
	tables, err := verify.ReplicatedTables(ctx, []verify.Region{{Name: donor, DB: dDB}}, a.cfg.Replication)
	if err != nil {
		return res, err
	}
	if len(tables) == 0 {
		return res, errors.New("the donor holds no replicated table")
	}
	c, err := a.api(ctx)
	if err != nil {
		return res, err
	}
	reason := "drill " + a.drillID
	rec := controller.RebuildRecord{ID: "rb-" + region + "-" + res.StartedAt.Format("20060102t150405.000"), Region: region, Donor: donor,
		Reason: reason, State: controller.RebuildRunning, StartedAt: res.StartedAt}
	if err := c.RecordRebuild(ctx, rec); err != nil {
		return res, fmt.Errorf("record the rebuild in the controller: %w", err)
	}
	sc := seed.DefaultConfig()
	sc.Donor, sc.DonorDB, sc.Flavor, sc.Target, sc.TargetDB, sc.Tables = donor, dDB, dr.MySQL.Flavor, region, tDB, tables
	sc.Progress = func(p seed.Progress) {
		if p.Done && !p.Earlier {
			fmt.Fprintf(a.progress, "drill %s: %s: %d rows copied from %s in %s\n", a.drillID, p.Table, p.Copied, donor, p.Elapsed.Round(time.Millisecond))
		}
	}
	out, err := seed.Rebuild(ctx, sc, reason, nil)
	rec.EndedAt, rec.State = time.Now().UTC(), controller.RebuildDone
	for _, t := range out.Tables {
		rec.Tables, rec.Rows = rec.Tables+1, rec.Rows+t.Rows
	}
	for _, k := range out.Kept {
		rec.Kept = append(rec.Kept, k.Table+" as "+k.KeptAs)
	}
	if err != nil {
		rec.State, rec.Detail = controller.RebuildFailed, err.Error()
	}
	if rerr := c.RecordRebuild(context.WithoutCancel(ctx), rec); rerr != nil && err == nil {
		err = fmt.Errorf("record the rebuild's end in the controller: %w", rerr)
	}
	if err != nil {
		return res, fmt.Errorf("rebuild of region %s from %s: %w", region, donor, err)
	}
	res.CopiedAt, res.Tables, res.Rows = rec.EndedAt, rec.Tables, rec.Rows
	res.Events = append(res.Events, drill.Event{At: res.CopiedAt, Action: fmt.Sprintf("region %s rebuilt from %s (%s): %d tables, %d rows copied, its own kept aside", region, donor, rec.ID, rec.Tables, rec.Rows), Actor: "drill runner", Result: "ok"})
	return res, nil
}
