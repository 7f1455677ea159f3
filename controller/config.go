package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Peer is one voter of the controller's Raft cluster: a regiond or the
// witness.
type Peer struct {
	ID   string `json:"id"`
	Addr string `json:"addr"` // host:port of its Raft transport
}

// Config configures a Node.
type Config struct {
	// ID is the node's Raft server id, unique and stable: the region's name
	// for a regiond, "witness" for the witness.
	ID string
	// BindAddr is where the Raft TCP transport listens (host:port).
	BindAddr string
	// AdvertiseAddr is the address other nodes dial; empty means BindAddr,
	// which then must not be a wildcard address.
	AdvertiseAddr string
	// DataDir holds the log and stable store (DataDir/raft) and snapshots
	// (DataDir/raft/snapshots).
	DataDir string
	// Bootstrap is the initial voter set, this node included. Every node may
	// be given the same list: it is used only when DataDir holds no Raft
	// state yet. Empty for a node that will be added with AddVoter.
	Bootstrap []Peer

	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are Raft's
	// timeouts (see DefaultConfig for the choice).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is the most a follower waits for a heartbeat carrying
	// the commit index.
	CommitTimeout time.Duration
	// SnapshotThreshold is how many log entries since the last snapshot
	// trigger a new one; SnapshotInterval how often that is checked.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// SnapshotRetain is how many snapshots are kept on disk.
	SnapshotRetain int
	// ApplyTimeout bounds Execute when its context has no deadline.
	ApplyTimeout time.Duration

	// Dial, if set, makes the Raft transport's outbound connections (e.g.
	// dial.Dialer.DialContext, to go through a relay); nil dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, if set, makes every Raft connection mutual TLS: the node serves
	// and dials with TLS.Certificates, and accepts only peers whose
	// certificate TLS.RootCAs signed (the same roots check the servers it
	// dials). Nil: plain TCP.
	TLS *tls.Config

	// Clock stamps commands whose Header.At is zero; nil means time.Now.
	Clock func() time.Time
	// Logger receives the node's and Raft's logs; nil discards them.
	Logger *slog.Logger
	// Metrics, shared by the nodes of a process; nil records nothing.
	Metrics *Metrics
}

// DefaultConfig returns the settings for a node with the given id, bind
// address and data folder.
//
// Timeouts: heartbeat and election 500 ms, leader lease 250 ms and commit
// 100 ms gave a new leader about 1 s after the old one stopped (loopback,
// 2 cores; 0.4 s with 150/150/100/20 ms, 1.3-2.8 s with Raft's defaults of
// 1 s / 1 s / 500 ms), and cost 29% less CPU at rest than 150/150/100/20
// (the leader heartbeats every follower each tenth of HeartbeatTimeout).
// A new leader is elected while the liveness detector is still deciding
// a region's failure (2-3 s), so the forced failover's detection and RTO
// did not change (docs/BENCHMARKS.md). Raft needs a round trip well under
// the heartbeat timeout: between regions with RTTs above ~150 ms raise the
// three together, or leaders will flap. The controller writes a few
// entries a minute, so snapshots are taken every 1024 entries.
func DefaultConfig(id, bindAddr, dataDir string) Config {
	return Config{
		ID:                 id,
		BindAddr:           bindAddr,
		DataDir:            dataDir,
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      100 * time.Millisecond,
		SnapshotThreshold:  1024,
		SnapshotInterval:   30 * time.Second,
		SnapshotRetain:     2,
		ApplyTimeout:       5 * time.Second,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.ID == "" {
		add("failover: ID is required")
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		add("failover: BindAddr %q: %w", c.BindAddr, err)
	}
	adv := c.AdvertiseAddr
	if adv == "" {
		adv = c.BindAddr
	}
	if host, port, err := net.SplitHostPort(adv); err == nil {
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			add("failover: AdvertiseAddr %q must be an IP address other peers can reach (set it when BindAddr is a wildcard)", adv)
		}
		if port == "0" {
			add("failover: advertised port of %q must not be 0", adv)
		}
	} else if c.AdvertiseAddr != "" {
		add("failover: AdvertiseAddr %q: %w", c.AdvertiseAddr, err)
	}
	if c.DataDir == "" {
		add("failover: DataDir is required")
	}
	seen := map[string]bool{}
	for i, p := range c.Bootstrap {
		if p.ID == "" || p.Addr == "" {
			add("failover: Bootstrap[%d]: ID and Addr are required", i)
		}
		if seen[p.ID] {
			add("failover: Bootstrap[%d]: ID %q appears twice", i, p.ID)
		}
		seen[p.ID] = true
	}
	if len(c.Bootstrap) > 0 && !seen[c.ID] {
		add("failover: Bootstrap does not list this node (%q)", c.ID)
	}
	if c.HeartbeatTimeout < 5*time.Millisecond || c.ElectionTimeout < 5*time.Millisecond {
		add("failover: HeartbeatTimeout and ElectionTimeout must be at least 5ms")
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		add("failover: ElectionTimeout (%s) must be at least HeartbeatTimeout (%s)", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		add("failover: LeaderLeaseTimeout (%s) must be at least 5ms and at most HeartbeatTimeout (%s)", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout <= 0 {
		add("failover: CommitTimeout must be positive")
	}
	if c.SnapshotThreshold == 0 || c.SnapshotInterval < 5*time.Millisecond || c.SnapshotRetain < 1 {
		add("failover: SnapshotThreshold, SnapshotInterval and SnapshotRetain must be positive")
	}
	if c.ApplyTimeout <= 0 {
		add("failover: ApplyTimeout must be positive")
	}
	return errors.Join(errs...)
}

func (c Config) advertise() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.BindAddr
}
