package regiond

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/failover/liveness"
)

// WitnessID is the controller id and gossip name of the witness.
const WitnessID = "witness"

// controllerNode is this process's share of the failover controller: a Raft
// node and a gossip member.
type controllerNode struct {
	node   *controller.Node
	member *liveness.Member
	log    *slog.Logger
	// faults drops gossip with the peers named in faultsPath; nil unless
	// controller.fault_injection is on (test labs only).
	faults     *liveness.FaultyTransport
	faultsPath string
	// pausePath holds failovers after the step it names
	// (failover.PauseFile); empty unless controller.fault_injection is on.
	pausePath string
}

// newController builds the controller of node id (a region's name, or
// WitnessID) from the deployment; nil when the deployment runs none.
// probe checks a region's MySQL from here. A node that joins starts no
// cluster (Config.Join).
func newController(dep *config.Config, id string, join bool, apiURL, dataDir string, dialer *dial.Dialer, probe func(context.Context, string) error, onEvent func(liveness.Event), reg prometheus.Registerer, log *slog.Logger) (*controllerNode, error) {
	var me config.ControllerNode
	role, region := liveness.RoleRegiond, id
	if id == WitnessID {
		if dep.Controller.Witness == nil {
			return nil, errors.New("controller.witness is not configured: add it (raft, gossip, data_dir) to run a witness")
		}
		me, role, region = dep.Controller.Witness.ControllerNode, liveness.RoleWitness, ""
	} else if r, ok := dep.Region(id); ok {
		me = r.Controller
	}
	if me.Raft == "" {
		return nil, nil
	}
	peers, observers, joins := []controller.Peer{}, map[string]string{}, []string{}
	for _, r := range dep.Regions {
		peers = append(peers, controller.Peer{ID: r.Name, Addr: r.Controller.Raft})
		observers[r.Name] = r.Name
		if r.Name != id {
			joins = append(joins, r.Controller.Gossip)
		}
	}
	if w := dep.Controller.Witness; w != nil {
		peers = append(peers, controller.Peer{ID: WitnessID, Addr: w.Raft})
		observers[WitnessID] = ""
		if id != WitnessID {
			joins = append(joins, w.Gossip)
		}
	}
	nc := controller.DefaultConfig(id, me.Raft, filepath.Join(dataDir, "controller"))
	nc.Bootstrap, nc.Logger, nc.Metrics = peers, log, controller.NewMetrics(reg)
	if join {
		nc.Bootstrap = nil
	}
	if r := dep.Controller.Raft; r != (config.RaftTimeouts{}) {
		nc.HeartbeatTimeout = cmp.Or(r.HeartbeatTimeout, nc.HeartbeatTimeout)
		nc.ElectionTimeout = cmp.Or(r.ElectionTimeout, nc.ElectionTimeout)
		nc.LeaderLeaseTimeout = cmp.Or(r.LeaderLeaseTimeout, nc.LeaderLeaseTimeout)
		nc.CommitTimeout = cmp.Or(r.CommitTimeout, nc.CommitTimeout)
	}
	var err error
	if nc.TLS, err = dial.TLSConfig(dep, "controller.tls", dep.Controller.TLS); err != nil {
		return nil, err
	}
	if dialer.Relayed() {
		nc.Dial = dialer.DialContext
	}
	node, err := controller.New(nc)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		if err := reg.Register(controller.NewStateCollector(node, id, dep.RegionNames())); err != nil {
			return nil, fmt.Errorf("controller: register its state's metrics: %w", err)
		}
	}
	host, port, err := net.SplitHostPort(me.Gossip)
	if err != nil {
		return nil, fmt.Errorf("controller gossip address %q: %w", me.Gossip, err)
	}
	p, _ := strconv.Atoi(port)
	mc := liveness.DefaultConfig(id, region, role)
	mc.BindAddr, mc.BindPort, mc.APIURL, mc.Join = host, p, apiURL, joins
	mc.Regions, mc.Observers, mc.ProbeMySQL = dep.RegionNames(), observers, probe
	mc.Detector.FailAfter, mc.Detector.Cooldown = dep.Controller.FailAfter, dep.Controller.Cooldown
	mc.Logger, mc.Metrics = log, liveness.NewMetrics(reg)
	if mc.SecretKey, err = dep.GossipKey(); err != nil {
		return nil, err
	}
	mc.OnEvent = func(e liveness.Event) {
		log.Warn("controller: region liveness event", "kind", e.Kind, "region", e.Region, "observers", e.Observers, "of", e.Of)
		if onEvent != nil {
			onEvent(e)
		}
	}
	c := &controllerNode{node: node, log: log}
	if dep.Controller.FaultInjection {
		c.faults, c.faultsPath = new(liveness.FaultyTransport), filepath.Join(dataDir, liveness.FaultsFile)
		mc.WrapTransport = c.faults.Wrap
		c.pausePath = filepath.Join(dataDir, failover.PauseFile)
		log.Warn("controller.fault_injection is on: gossip can be cut by writing " + c.faultsPath + "; this is for test labs, never production")
	}
	if c.member, err = liveness.New(mc); err != nil {
		return nil, err
	}
	return c, nil
}

// Run starts the Raft node and the gossip member and stops them, in
// reverse order, when ctx ends. The witness hands leadership on whenever
// it wins it: only a regiond acts (it has the API, MySQL and the switch).
func (c *controllerNode) Run(ctx context.Context) error {
	if err := c.node.Start(ctx); err != nil {
		return err
	}
	if c.faults != nil {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.faults.Follow(fctx, c.faultsPath, 200*time.Millisecond, c.log) }()
		defer func() { cancel(); <-done }()
	}
	if c.node.ID() == WitnessID {
		hctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.handOver(hctx) }()
		defer func() { cancel(); <-done }()
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.node.Stop(sctx); err != nil {
			c.log.Warn("controller: Raft node did not stop cleanly", "err", err)
		}
	}()
	return c.member.Run(ctx)
}

func (d *Daemon) controllerRoutes() {
	d.api.HandleFunc("GET /v1/controller", apiserver.RoleViewer, d.handleController)
	d.api.HandleFunc("POST /v1/controller/voters", apiserver.RoleOperator, d.handleAddVoter)
	d.api.HandleFunc("DELETE /v1/controller/voters/{id}", apiserver.RoleOperator, d.handleRemoveVoter)
}

func (d *Daemon) handleController(w http.ResponseWriter, r *http.Request) {
	if d.ctl == nil {
		noController(w)
		return
	}
	st, err := d.ctl.node.Status()
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, api.ControllerStatus{Node: st, Members: d.ctl.member.Members(), Regions: d.ctl.member.Regions(), State: d.ctl.node.State()})
}

func (d *Daemon) handleAddVoter(w http.ResponseWriter, r *http.Request) {
	var req api.VoterRequest
	if !decode(w, r, &req) {
		return
	}
	if d.ctl == nil {
		noController(w)
		return
	}
	if req.ID == "" || req.Addr == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "id and addr are required", `send {"id": "c", "addr": "10.0.0.7:7300"}`)
		return
	}
	if _, _, err := net.SplitHostPort(req.Addr); err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("addr: %q is not host:port", req.Addr), "")
		return
	}
	err := d.ctl.node.AddVoter(r.Context(), req.ID, req.Addr)
	d.audit(r, "controller.add-voter", req.ID, err, map[string]string{"addr": req.Addr})
	d.voterAnswer(w, err)
}

func (d *Daemon) handleRemoveVoter(w http.ResponseWriter, r *http.Request) {
	if d.ctl == nil {
		noController(w)
		return
	}
	err := d.ctl.node.RemoveVoter(r.Context(), r.PathValue("id"))
	d.audit(r, "controller.remove-voter", r.PathValue("id"), err, nil)
	d.voterAnswer(w, err)
}

func (d *Daemon) voterAnswer(w http.ResponseWriter, err error) {
	var nl *controller.NotLeaderError
	switch {
	case err == nil:
		st, _ := d.ctl.node.Status()
		apiserver.WriteJSON(w, http.StatusOK, st)
	case errors.As(err, &nl):
		apiserver.WriteError(w, http.StatusConflict, err.Error(), "ask the leader's regiond (regionctl does)")
	default:
		apiserver.WriteError(w, http.StatusBadRequest, err.Error(), "")
	}
}

// probeMySQL pings a region's MySQL from this process.
func probeMySQL(db func(string) (*sql.DB, error)) func(context.Context, string) error {
	return func(ctx context.Context, region string) error {
		h, err := db(region)
		if err != nil {
			return err
		}
		return h.PingContext(ctx)
	}
}

// handOver transfers leadership away from the witness each time it leads,
// until ctx ends. A failed transfer (no other voter up to date yet, as
// right after an election) is retried every 200 ms: the witness leads
// meanwhile, which keeps the log moving but starts no action, so a region
// that failed with the old leader waits for the hand-over to be failed
// over.
func (c *controllerNode) handOver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case lead := <-c.node.LeaderCh():
			for try := 1; lead && ctx.Err() == nil; try++ {
				tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := c.node.TransferLeadership(tctx)
				cancel()
				if err == nil || !c.node.IsLeader() {
					c.log.Info("witness handed the controller's leadership on", "tries", try)
					break
				}
				if try%10 == 1 {
					c.log.Warn("witness leads and cannot hand over yet; retrying every 200 ms", "tries", try, "err", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}
}

// onLiveness receives the gossip detector's events (from the member's
// goroutine: it must not block) for the automatic failover.
func (d *Daemon) onLiveness(e liveness.Event) {
	if d.fo != nil {
		d.fo.Notify(e)
	}
}

// newOrchestrator builds the failover workflow on this daemon's
// controller node, routing table, switcher and view of replication.
func (d *Daemon) newOrchestrator() (*failover.Orchestrator, error) {
	return failover.New(failover.Config{Deployment: d.cfg.Deployment, Node: d.ctl.node, Store: d.store, Switcher: d.switcher,
		Replication: d.peers, Liveness: d.ctl.member, Etcd: d.etcd, PauseFile: d.ctl.pausePath, Logger: d.log,
		RPOSource: func(region string) (binlog.Config, error) {
			return binlogConfig(d.cfg.Deployment, d.dialer, region, rpoServerID+d.region.MySQL.ServerID)
		}})
}

// rpoServerID offsets the replica id RPO readers register with, apart
// from capture's.
const rpoServerID = 100000
