package failover

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/liveness"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
)

// PauseFile is the file, in a regiond's data folder, that holds the
// failovers the leader runs after the step it names ("begin", "fence",
// "hold", ...) while it does, when controller.fault_injection is on.
const PauseFile = "failover-pause"

// Replication is what a failover needs to know of replication: a
// switch's questions, and each region's MySQL (to read the survivor's
// stored link state and to converge a returning region's rows). Calls
// may come from several failovers at once.
type Replication interface {
	traffic.Replication
	// DB returns region's MySQL.
	DB(region string) (*sql.DB, error)
}

// Liveness answers which regions the gossip detector holds failed.
type Liveness interface {
	Regions() []liveness.RegionStatus
}

// Config is what an Orchestrator needs: the controller's node, the
// routing table, the traffic switch and a view of replication.
type Config struct {
	// Deployment is the validated deployment config.
	Deployment *config.Config
	// Node is this process's controller node; the orchestrator acts only
	// while it leads.
	Node *controller.Node
	// Store is the routing table; Switcher moves buckets.
	Store    *router.Store
	Switcher *traffic.Switcher
	// Replication answers for every region's MySQL and links.
	Replication Replication
	// Liveness says which regions are failed (automatic failover).
	Liveness Liveness
	// Etcd keeps the survivor's link state of a forced failover (for an
	// RPO completed later) and reads capture checkpoints.
	Etcd *clientv3.Client
	// RPOSource returns how to read region's binlog to count an RPO
	// (with a replica server id apart from capture's).
	RPOSource func(region string) (binlog.Config, error)
	// PauseFile, when set (controller.fault_injection, test labs only),
	// holds a failover after the step the file names.
	PauseFile string
	Logger    *slog.Logger
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Deployment == nil {
		errs = append(errs, errors.New("failover: Deployment is missing"))
	}
	if c.Node == nil || c.Store == nil || c.Switcher == nil || c.Replication == nil || c.Liveness == nil || c.Etcd == nil || c.RPOSource == nil {
		errs = append(errs, errors.New("failover: Node, Store, Switcher, Replication, Liveness, Etcd and RPOSource are all needed"))
	}
	return errors.Join(errs...)
}

// Orchestrator carries out failovers and failbacks on the controller's
// leader: planned (a traffic switch of every bucket of a region, RPO 0),
// forced (fence, drain, hold, move, exact RPO), automatic forced
// failovers of the regions controller.auto_failover names, and the
// completion of what a former leader left: failovers it left midway,
// switches whose process died, RPOs still pending. Every step is a
// controller command first.
//
//	o, err := failover.New(cfg)
//	go o.Run(ctx) // the leader's loops
//	rep, err := o.Failover(ctx, api.FailoverRequest{From: "a", Kind: "planned", Reason: "maintenance"}, "alice")
//
// Its methods are safe for concurrent use.
type Orchestrator struct {
	cfg       Config
	dep       *config.Config
	node      *controller.Node
	store     *router.Store
	switches  *traffic.Switcher
	repl      Replication
	live      Liveness
	etcd      *clientv3.Client
	log       *slog.Logger
	pausePath string
	// running are the failovers this process carries out now.
	running idSet
	// failed wakes the automatic failover on a detector's event.
	failed chan liveness.Event
}

// New checks cfg and returns an Orchestrator; Run starts its loops.
func New(cfg Config) (*Orchestrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Orchestrator{cfg: cfg, dep: cfg.Deployment, node: cfg.Node, store: cfg.Store, switches: cfg.Switcher,
		repl: cfg.Replication, live: cfg.Liveness, etcd: cfg.Etcd, log: cfg.Logger, pausePath: cfg.PauseFile,
		failed: make(chan liveness.Event, 8)}, nil
}

// Run runs the leader's loops until ctx ends: automatic failover, the
// completion of pending RPOs and the take-over of what a former leader
// left. Each acts only while this node leads the controller.
func (o *Orchestrator) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loops := []func(context.Context) error{o.autoFailover, o.completeRPOs, o.takeOver}
	errc := make(chan error, len(loops))
	for _, loop := range loops {
		go func() { errc <- loop(ctx) }()
	}
	var first error
	for range loops {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// Notify receives the gossip detector's events; it never blocks (call it
// from the member's goroutine).
func (o *Orchestrator) Notify(e liveness.Event) {
	if e.Kind != liveness.EventFailed {
		return
	}
	select {
	case o.failed <- e:
	default:
		o.log.Error("controller: a region failure event was dropped (the failover loop is busy)", "region", e.Region)
	}
}

// checkpoints is region's capture checkpoint in etcd.
func (o *Orchestrator) checkpoints(region string) *capture.EtcdCheckpoints {
	return &capture.EtcdCheckpoints{Client: o.etcd, Key: capture.CheckpointKey(o.dep.Etcd.Prefix, region)}
}

// electionWait bounds how long a failover step waits for the controller
// to elect a leader when it has none: a step must not fail for a moment
// without one (the region lost may have taken the leader with it).
const electionWait = 10 * time.Second

// execute runs cmd on the controller. While the controller has no leader
// (an election, or this node about to lead again) and cmd was not
// applied, it tries again, up to electionWait; once another node leads,
// the failure stands: that leader takes the failover over.
func (o *Orchestrator) execute(ctx context.Context, cmd controller.Command) (controller.Result, error) {
	deadline := time.Now().Add(electionWait)
	for {
		res, err := o.node.Execute(ctx, cmd)
		var nl *controller.NotLeaderError
		if err == nil || !controller.NotApplied(err) || !errors.As(err, &nl) ||
			(nl.LeaderID != "" && nl.LeaderID != o.node.ID()) || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
