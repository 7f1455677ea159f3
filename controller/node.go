package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// ErrStopped is returned by a Node that is not running.
var ErrStopped = errors.New("failover: node is not running")

// ErrNotLeader is wrapped by the error of calls that only the leader may
// make. The error is a *NotLeaderError naming the leader, if one is known,
// so that the caller can forward the call.
var ErrNotLeader = errors.New("not the controller leader")

// NotLeaderError says which node is leader.
type NotLeaderError struct {
	LeaderID   string // empty when no leader is known
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNotLeader.Error() + "; no leader is known yet, retry shortly"
	}
	return fmt.Sprintf("%s; the leader is %s at %s", ErrNotLeader, e.LeaderID, e.LeaderAddr)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Result is what Execute returns for an applied command.
type Result struct {
	Op    string `json:"op"`
	Index uint64 `json:"index"` // the Raft log index of the command
}

// Node is one member of the controller's Raft cluster. Its methods are
// safe for concurrent use. A Node may be started again after Stop; it then
// recovers its state from DataDir (snapshot, then log replay).
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	m     *Metrics

	leaderCh chan bool

	mu       sync.Mutex
	run      *instance     // nil when stopped
	last     *fsm          // the FSM of the latest run, for State after Stop
	stopping chan struct{} // closed when the latest Stop has released everything
}

// instance is what one Start creates and Stop releases.
type instance struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	fsm   *fsm
	wal   *raftwal.WAL
	meta  *metadb.BoltMetaDB
	obs   *raft.Observer
	stop  chan struct{}
	done  chan struct{}
}

// New checks cfg and returns a stopped node.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, m: cfg.Metrics, leaderCh: make(chan bool, 1), last: newFSM()}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.log = n.log.With("node", cfg.ID)
	if n.clock == nil {
		n.clock = time.Now
	}
	if n.m == nil {
		n.m = NewMetrics(nil)
	}
	return n, nil
}

// ID returns the node's Raft server id.
func (n *Node) ID() string { return n.cfg.ID }

// Start opens the stores in DataDir, bootstraps the cluster if DataDir is
// new and Bootstrap is set, and joins the cluster. It returns once the node
// runs; use LeaderCh or Leader to learn when a leader is elected.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	stopping := n.stopping
	n.mu.Unlock()
	if stopping != nil { // a Stop whose ctx ended may still be closing the stores
		select {
		case <-stopping:
		case <-ctx.Done():
			return fmt.Errorf("failover: start %s: waiting for the previous stop: %w", n.cfg.ID, ctx.Err())
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run != nil {
		return errors.New("failover: node is already running")
	}
	in, err := n.open()
	if err != nil {
		return fmt.Errorf("failover: start %s: %w", n.cfg.ID, err)
	}
	n.run, n.last = in, in.fsm
	go n.observe(in)
	n.log.Info("controller node started", "addr", n.cfg.advertise(), "data_dir", n.cfg.DataDir)
	return nil
}

func (n *Node) open() (_ *instance, err error) {
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	in := &instance{fsm: newFSM(), meta: &metadb.BoltMetaDB{}, stop: make(chan struct{}), done: make(chan struct{})}
	// raft-wal v0.4.0 does not close the metadata store it opens itself, so
	// we pass our own and close it in Stop; otherwise a restart in the same
	// process blocks in bbolt.Open.
	in.wal, err = raftwal.Open(dir, raftwal.WithMetaStore(in.meta))
	if err != nil {
		in.meta.Close()
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			in.wal.Close()
			in.meta.Close()
		}
	}()
	hl := hclogFor(n.log, "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, n.cfg.SnapshotRetain, hl)
	if err != nil {
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	adv, err := net.ResolveTCPAddr("tcp", n.cfg.advertise())
	if err != nil {
		return nil, fmt.Errorf("advertise address: %w", err)
	}
	trans, err := n.transport(adv, hl)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", n.cfg.BindAddr, err)
	}
	rc := n.raftConfig(hl)
	if len(n.cfg.Bootstrap) > 0 {
		has, err := raft.HasExistingState(in.wal, in.wal, snaps)
		if err != nil {
			trans.Close()
			return nil, fmt.Errorf("read raft state: %w", err)
		}
		if !has {
			var servers []raft.Server
			for _, p := range n.cfg.Bootstrap {
				servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
			}
			if err := raft.BootstrapCluster(rc, in.wal, in.wal, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
				trans.Close()
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	in.raft, err = raft.NewRaft(rc, in.fsm, in.wal, in.wal, snaps, trans)
	if err != nil {
		trans.Close()
		return nil, fmt.Errorf("raft: %w", err)
	}
	in.trans = trans
	return in, nil
}

func (n *Node) raftConfig(hl hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.Logger = hl
	return rc
}

// Stop leaves the cluster's work to the others: it shuts Raft down and
// closes the transport and the stores. It is idempotent. If ctx ends
// first, Stop returns ctx's error and the shutdown completes in the
// background (a later Start waits for it).
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	in := n.run
	n.run = nil
	var stopping chan struct{}
	if in != nil {
		stopping = make(chan struct{})
		n.stopping = stopping
	}
	n.mu.Unlock()
	if in == nil {
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		defer close(stopping)
		err := in.raft.Shutdown().Error() // also closes the transport's listener
		// Close our pooled connections too: the peers' goroutines serving
		// them would otherwise wait on them for as long as we run.
		in.trans.CloseStreams()
		close(in.stop)
		<-in.done
		in.raft.DeregisterObserver(in.obs)
		err = errors.Join(err, in.wal.Close(), in.meta.Close())
		n.m.state.WithLabelValues(n.cfg.ID).Set(float64(raft.Shutdown))
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("failover: stop %s: %w", n.cfg.ID, err)
		}
		n.log.Info("controller node stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failover: stop %s: %w", n.cfg.ID, ctx.Err())
	}
}

func (n *Node) current() (*instance, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run == nil {
		return nil, ErrStopped
	}
	return n.run, nil
}
