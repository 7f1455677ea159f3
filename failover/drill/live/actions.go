package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
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

	// Lab only (st nil otherwise).
	st      *lab.State
	bin     lab.Binaries
	gateway string // the load's and the probes' gateway
	// client writes the load's and the probes' ledger moves through it.
	client ledger.Workload
	load   *clientLoad
	// probeBase is the first candidate id of probe users: users outside
	// the ledger whose writes measure when service is back.
	probeBase int64
	opened    map[int64]bool
	killed    map[string]bool
	// rpoLost sums the transactions the forced failovers reported lost:
	// the ledger's missing writes up to it are explained.
	rpoLost int64
	// pendingRPO are forced failovers whose RPO was pending when they
	// answered: the ledger check reads their completed count.
	pendingRPO []string
}

var _ drill.Actions = (*actions)(nil)

// newActions prepares a drill of plan. With a lab (st non-nil) it
// opens the ledgers of the drill's own users (ids from now, so that every
// drill has fresh ones) and starts the client load through the gateway
// of a region the plan does not fail over.
func newActions(ctx context.Context, cfg *config.Config, c *client.Client, plan *drill.Plan, drillID string, st *lab.State, bin lab.Binaries, progress io.Writer) (*actions, error) {
	a := &actions{cfg: cfg, c: c, drillID: drillID, progress: progress, st: st, bin: bin,
		opened: map[int64]bool{}, killed: map[string]bool{}}
	if st == nil {
		return a, nil
	}
	gw := gatewayRegion(plan, st)
	r, _ := st.Region(gw)
	a.gateway = fmt.Sprintf("http://127.0.0.1:%d", r.GatewayPort)
	base := 1_000_000_000 + (time.Now().Unix()%1_000_000)*1000
	a.probeBase = base + loadUsers
	users := make([]int64, loadUsers)
	for i := range users {
		users[i] = base + int64(i)
	}
	// Request ids name the drill's start, not its ID: an operator's ID can
	// be long, and an id must fit in 64 characters.
	runID := "drill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	a.client = ledger.Workload{Gateways: []string{a.gateway}, RunID: runID, Retry: 20 * time.Millisecond, Timeout: 30 * time.Second}
	fmt.Fprintf(progress, "drill %s: opening the ledgers of %d users through region %s's gateway\n", drillID, len(users), gw)
	w := a.client
	w.Users, w.Rate, w.Workers, w.Duration, w.History = users, loadRate, 4, 24*time.Hour, &ledger.History{}
	if err := w.Open(ctx, time.Minute); err != nil {
		return nil, fmt.Errorf("open the drill's users through region %s's gateway: %w (is the ledger schema in place? `regionctl lab up` creates it)", gw, err)
	}
	a.load = &clientLoad{w: w}
	a.load.resume()
	fmt.Fprintf(progress, "drill %s: client load running, %d writes/s\n", drillID, loadRate)
	return a, nil
}

// gatewayRegion picks the region whose gateway the drill writes through:
// the first one no failover step of the plan takes down, else the last.
func gatewayRegion(plan *drill.Plan, st *lab.State) string {
	down := map[string]bool{}
	for _, s := range plan.Steps {
		if s.Kind == drill.KindFailover {
			down[s.Region] = true
		}
	}
	for _, r := range st.Regions {
		if !down[r.Name] {
			return r.Name
		}
	}
	return st.Regions[len(st.Regions)-1].Name
}

// close stops the client load if the ledger was never checked.
func (a *actions) close() {
	if a.load != nil {
		a.load.pause()
	}
}

// api returns a client of the first regiond that answers.
func (a *actions) api(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, a.cfg, a.c.Token, a.c.HTTP)
}
