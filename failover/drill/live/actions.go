package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/failover/drill"
)

// Bounds of what a drill waits for.
const (
	// detectionWait bounds the wait for the controller to declare a
	// killed region failed; the failover is forced anyway after it.
	detectionWait = 30 * time.Second
	// restoreWait bounds the wait, after the controller answered, for a
	// user of the moved region to write again.
	restoreWait = 30 * time.Second
	// rpoWait bounds the wait, before a failback, for the controller to
	// count a killed region's RPO once the region is back.
	rpoWait = 60 * time.Second
	// linkWait bounds the wait for every replication link to run.
	linkWait = 30 * time.Second
	// drainWait bounds the wait for replication to apply everything
	// before checksums are compared.
	drainWait = 30 * time.Second
	// ledgerWait bounds the wait for every region to hold the ledger's
	// acknowledged writes.
	ledgerWait = 90 * time.Second
	// loadRate is the drill's client load, writes a second.
	loadRate = 50
	// loadUsers is how many users the load writes for.
	loadUsers = 24
)

// errTooEarly marks a failback the controller refused for now (503): the
// region is still catching up or its RPO is not counted yet.
var errTooEarly = errors.New("too early")

// errFailbackNotBuilt is returned by Failback when regiond has no
// failback endpoint.
var errFailbackNotBuilt = errors.New("failback is not built yet: regiond has no POST /v1/failbacks; move the region's buckets home by hand (regionctl switch --buckets ... --to CELL) and run the failback again once regiond has it")

// actions carries out a drill through the regiond APIs of a
// deployment: the controller's failovers and failbacks, the regions'
// status and MySQL for the checks. In a lab it also kills and starts
// regions (target mode kill), runs the drill's client load through a
// gateway (the ledger) and probes when users can write again.
//
// The drill runner calls it from one goroutine (drill.Actions).
type actions struct {
	cfg      *config.Config
	c        *client.Client // the operator's token, no BaseURL (see api)
	drillID  string
	progress io.Writer

	// Lab only (lab nil otherwise).
	lab Lab
	// load is the drill's client load, whose history is its ledger;
	// checked once Ledger has verified it (it then runs no more, and
	// only probes write).
	load    Load
	checked bool
	// probeBase is the first candidate id of probe users: users outside
	// the ledger whose writes measure when service is back.
	probeBase int64
	opened    map[int64]bool
	killed    map[string]bool
	// movedProbe is, per region a failover moved, the probe user it
	// served just before: one in the buckets its failback brings back.
	movedProbe map[string]int64
	// rpoLost sums the transactions the forced failovers reported lost:
	// the ledger's missing writes up to it are explained.
	rpoLost int64
	// pendingRPO are forced failovers whose RPO was pending when they
	// answered: the ledger check reads their completed count.
	pendingRPO []string
}

var _ drill.Actions = (*actions)(nil)

// newActions prepares a drill of plan. In a lab it opens the ledgers
// of the drill's own users (ids from now, so that every drill has fresh
// ones) and starts the client load through the gateway of a region the
// plan does not fail over.
func newActions(ctx context.Context, cfg *config.Config, c *client.Client, plan *drill.Plan, drillID string, lab Lab, progress io.Writer) (*actions, error) {
	a := &actions{cfg: cfg, c: c, drillID: drillID, progress: progress, lab: lab,
		opened: map[int64]bool{}, killed: map[string]bool{}, movedProbe: map[string]int64{}}
	if lab == nil {
		return a, nil
	}
	gw := gatewayRegion(plan, lab.Regions())
	// 1,000 ids a millisecond (24 load users, up to 200 probe
	// candidates): two drills started within one second (a drill can
	// take half of one) must not share users, or each sees the other's
	// requests as rows no client sent.
	base := 1_000_000_000 + (time.Now().UnixMilli()%1_000_000_000)*1000
	a.probeBase = base + loadUsers
	users := make([]int64, loadUsers)
	for i := range users {
		users[i] = base + int64(i)
	}
	fmt.Fprintf(progress, "drill %s: opening the ledgers of %d users through region %s's gateway\n", drillID, len(users), gw)
	load, err := lab.StartLoad(ctx, gw, users, loadRate)
	if err != nil {
		return nil, fmt.Errorf("open the drill's users through region %s's gateway: %w (is the ledger schema in place? `regionctl lab up` creates it)", gw, err)
	}
	a.load = load
	fmt.Fprintf(progress, "drill %s: client load running, %d writes/s\n", drillID, loadRate)
	return a, nil
}

// gatewayRegion picks the region whose gateway the drill writes through:
// the first one no failover step of the plan takes down, else the last.
func gatewayRegion(plan *drill.Plan, regions []string) string {
	down := map[string]bool{}
	for _, s := range plan.Steps {
		if s.Kind == drill.KindFailover {
			down[s.Region] = true
		}
	}
	for _, r := range regions {
		if !down[r] {
			return r
		}
	}
	return regions[len(regions)-1]
}

// close stops the client load if the ledger was never checked.
func (a *actions) close() {
	if a.load != nil {
		a.load.Pause()
	}
}

// api returns a client of the first regiond that answers.
func (a *actions) api(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, a.cfg, a.c.Token, a.c.HTTP)
}
