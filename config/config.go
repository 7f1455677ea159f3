// Package config describes one deployment of the platform: its regions and
// their MySQL, Kafka and API endpoints, etcd, cells, buckets and what is
// replicated. One YAML file holds it; every regiond and regionctl of the
// deployment reads the same file.
//
// Load parses strictly (unknown fields are errors) and validates once,
// reporting every problem with its field path and the fix:
//
//	cfg, err := config.Load("deploy.yaml")
//	if err != nil {
//		// err lists each problem on its own line, e.g.
//		// regions[1].mysql.dsn: missing port: write host:port, e.g. tcp(10.0.0.5:3306)
//	}
package config

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Config is a whole deployment.
type Config struct {
	// Name identifies the deployment in logs, metrics and reports.
	Name string `yaml:"name"`
	// Buckets is how many routing buckets users hash into (default 1024).
	Buckets int `yaml:"buckets"`
	// Etcd holds the routing table, fences, epochs and checkpoints.
	Etcd Etcd `yaml:"etcd"`
	// API lists the tokens accepted by every regiond's HTTP API.
	API API `yaml:"api"`
	// Regions are the places that each run a full copy of the data.
	Regions []Region `yaml:"regions"`
	// Cells are the units users are homed in; each lives in one region.
	Cells []Cell `yaml:"cells"`
	// Replication says which databases and tables are replicated and how.
	Replication Replication `yaml:"replication"`
	// Router configures the gateway and the traffic switch.
	Router Router `yaml:"router"`
	// Controller configures the failover controller (Raft and gossip).
	Controller Controller `yaml:"controller"`

	// dir is the folder of the file the config was loaded from; relative
	// paths in it resolve against it.
	dir string
}

// Etcd is how to reach the etcd cluster.
type Etcd struct {
	Endpoints []string `yaml:"endpoints"`
	// Prefix is the key prefix under which everything is stored (default "/region/").
	Prefix string `yaml:"prefix"`
	// Username for etcd auth; the password comes from PasswordEnv or PasswordFile.
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	TLS         TLS           `yaml:"tls"`
}

// API configures access to the regiond HTTP API and console.
type API struct {
	Tokens []Token `yaml:"tokens"`
	// MetricsNeedToken makes GET /metrics need a token of any role (a
	// viewer's for Prometheus); off, anyone who reaches the API address
	// can read the metrics.
	MetricsNeedToken bool `yaml:"metrics_need_token"`
}

// Token is one API credential. Its secret is never written in the file
// itself: it is read from an environment variable or a file (mode 0600).
type Token struct {
	// Name is the identity recorded in the audit log.
	Name string `yaml:"name"`
	// Role is "operator" (may change things) or "viewer" (read only).
	Role string `yaml:"role"`
	// Env names the environment variable holding the secret.
	Env string `yaml:"env"`
	// File is a path to a file holding the secret (relative to the config file).
	File string `yaml:"file"`
}

// Region is one region's endpoints.
type Region struct {
	// Name is short and stable (lower-case letters, digits, '-'), e.g. "eu-west" or "a".
	Name  string `yaml:"name"`
	MySQL MySQL  `yaml:"mysql"`
	Kafka Kafka  `yaml:"kafka"`
	// Listen is the host:port regiond's HTTP API binds to.
	Listen string `yaml:"listen"`
	// URL is how others reach the API (default http(s)://Listen).
	URL string `yaml:"url"`
	// APITLS serves the API over TLS when cert_file and key_file are set.
	APITLS TLS `yaml:"api_tls"`
	// DataDir holds regiond's local state (Raft log, audit log).
	DataDir string `yaml:"data_dir"`
	// App is the base URL of the application in this region: where the
	// gateway sends the users whose cell lives here, e.g. http://10.0.0.9:8080.
	App string `yaml:"app"`
	// GatewayListen, if set, is the host:port on which regiond also runs
	// the gateway (the routing reverse proxy).
	GatewayListen string `yaml:"gateway_listen"`
	// Controller is where this region's controller node talks to the
	// others; empty runs no controller.
	Controller ControllerNode `yaml:"controller"`
	// DialVia sends this region's regiond's outbound TCP connections to
	// an address through a relay instead: "host:port it would dial" ->
	// "host:port of the relay", e.g. an egress proxy or WAN emulator that
	// forwards to the original address. It applies to every connection
	// regiond makes to other regions (MySQL, binlog, Kafka brokers,
	// including the addresses brokers advertise, Raft, the regiond API);
	// addresses not listed are dialed directly. Empty: dial directly.
	DialVia map[string]string `yaml:"dial_via"`
}

// ControllerNode is one voter of the controller: a regiond or the witness.
type ControllerNode struct {
	// Raft is host:port of its Raft transport (TCP).
	Raft string `yaml:"raft"`
	// Gossip is host:port of its gossip (memberlist, UDP and TCP).
	Gossip string `yaml:"gossip"`
}

// Controller configures the failover controller.
type Controller struct {
	// Witness, if set, is a voter with no MySQL in a third place, so that
	// two regions keep a majority when one is down (regiond --witness).
	Witness *Witness `yaml:"witness"`
	// FailAfter is how long a majority of the other observers must have
	// lost a region, with its MySQL unreachable, before it is declared
	// failed (default 3s).
	FailAfter time.Duration `yaml:"fail_after"`
	// Cooldown is how long after a failover no automatic failover runs
	// again (default 5m).
	Cooldown time.Duration `yaml:"cooldown"`
	// AutoFailover lists the regions the controller's leader fails over
	// by itself (forced) once they are declared failed. Off by default:
	// an operator decides.
	AutoFailover []string `yaml:"auto_failover"`
	// RPOBudget is the promotion guard of a forced failover: the most
	// transactions the survivor may still lack after draining (its link's
	// lag, proven from applied GTIDs) for the failover to go ahead without
	// an explicit override (accept_rpo). 0: no budget.
	RPOBudget int64 `yaml:"rpo_budget"`
	// FaultInjection lets the lab drop gossip between chosen controller
	// nodes (a file in each node's data dir names the peers to cut off)
	// and pause the leader's failovers after a step (failover-pause).
	// For test labs only, never production: a node that has it logs a
	// warning at start and at every change of the faults.
	FaultInjection bool `yaml:"fault_injection"`
	// GossipKeyFile or GossipKeyEnv hold the key that encrypts and
	// authenticates the controller's gossip (base64 of 16, 24 or 32
	// bytes: AES-128, -192 or -256; `openssl rand -base64 32`). Every
	// regiond and the witness need the same key. Neither: gossip is
	// plain, and anyone who reaches the gossip ports can join it.
	GossipKeyFile string `yaml:"gossip_key_file"`
	GossipKeyEnv  string `yaml:"gossip_key_env"`
	// Raft sets the controller's Raft timeouts; unset fields keep the
	// defaults, tuned for regions a few tens of milliseconds apart.
	Raft RaftTimeouts `yaml:"raft"`
	// TLS makes the controller's Raft traffic mutual TLS: every regiond
	// and the witness serve and dial with cert_file/key_file and accept
	// only peers whose certificate ca_file signed (set all three; each
	// node's certificate must name its controller raft host). Unset:
	// plain TCP.
	TLS TLS `yaml:"tls"`
}

// RaftTimeouts are the controller's Raft timeouts (hashicorp/raft's).
// Zero keeps the default (controller.DefaultConfig): heartbeat and
// election 500ms, leader lease 250ms, commit 100ms (a new leader in
// about 1 s), for regions up to ~150 ms apart; between regions further
// apart raise the first three together, or leaders will flap. Shorter
// timeouts cost more CPU at rest (the leader heartbeats every follower
// every tenth of heartbeat_timeout).
type RaftTimeouts struct {
	HeartbeatTimeout   time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout    time.Duration `yaml:"election_timeout"`
	LeaderLeaseTimeout time.Duration `yaml:"leader_lease_timeout"`
	CommitTimeout      time.Duration `yaml:"commit_timeout"`
}

// GossipKey reads the controller's gossip key (nil when none is
// configured).
func (c *Config) GossipKey() ([]byte, error) {
	s, err := c.Secret("controller.gossip_key_file", c.Controller.GossipKeyEnv, c.Controller.GossipKeyFile)
	if err != nil || s == "" {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("controller.gossip_key: not base64: %w (make one with: openssl rand -base64 32)", err)
	}
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("controller.gossip_key: %d bytes; use 16, 24 or 32 (openssl rand -base64 32)", n)
	}
	return key, nil
}

// Witness is the controller's witness node.
type Witness struct {
	ControllerNode `yaml:",inline"`
	// DataDir holds the witness's Raft log and snapshots.
	DataDir string `yaml:"data_dir"`
	// DialVia is the witness's relays, as in regions[].dial_via.
	DialVia map[string]string `yaml:"dial_via"`
	// Metrics is where the witness serves GET /metrics (its controller's
	// and gossip's collectors) for Prometheus; empty: not served.
	Metrics string `yaml:"metrics"`
}

// MySQL is how to reach a region's MySQL (or MariaDB) primary.
type MySQL struct {
	// DSN in go-sql-driver form without the password, e.g. "repl@tcp(10.0.0.5:3306)/".
	DSN string `yaml:"dsn"`
	// PasswordEnv or PasswordFile supply the password, if any.
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Flavor is "mariadb" or "mysql" (default "mariadb").
	Flavor string `yaml:"flavor"`
	// ServerID is the id capture uses when it registers as a replica (default 1000 + region index).
	ServerID uint32 `yaml:"server_id"`
	TLS      TLS    `yaml:"tls"`
}

// Kafka is how to reach a region's Kafka cluster.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	// Version is the Kafka protocol version to speak (default "3.6.0").
	Version string `yaml:"version"`
	SASL    SASL   `yaml:"sasl"`
	TLS     TLS    `yaml:"tls"`
}

// SASL is Kafka SASL authentication.
type SASL struct {
	// Mechanism is "" (none) or "PLAIN" (use it with TLS). SCRAM is not
	// built yet.
	Mechanism   string `yaml:"mechanism"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
}

// TLS configures a TLS client or server. Paths are relative to the config file.
type TLS struct {
	// Enabled turns TLS on for clients (set implicitly by ca_file or cert_file).
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables certificate checks; allowed only for tests.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// On reports whether TLS is in use.
func (t TLS) On() bool { return t.Enabled || t.CAFile != "" || t.CertFile != "" }

// Cell is a unit of placement: the users of its buckets write in Region;
// Standby is where they go when Region fails.
type Cell struct {
	Name    string `yaml:"name"`
	Region  string `yaml:"region"`
	Standby string `yaml:"standby"`
}

// Replication selects what is replicated and how conflicts resolve.
type Replication struct {
	// Databases to replicate; system schemas are always excluded.
	Databases []string `yaml:"databases"`
	// Exclude lists "db.table" patterns ('*' wildcard) never replicated.
	Exclude []string `yaml:"exclude"`
	// Tables configures individual tables; tables not listed replicate as
	// global tables with the default policy.
	Tables []Table `yaml:"tables"`
	// DefaultConflict is the policy for tables not listed, and for listed
	// tables without their own (default "reject": an unlisted table never
	// overwrites a concurrent change silently).
	DefaultConflict string `yaml:"default_conflict"`
	// VerifyEvery is how often the controller's leader compares every
	// replicated table across the regions (continuous verification;
	// default 2m, at least 10s).
	VerifyEvery time.Duration `yaml:"verify_every"`
	// ApplyWait is how long an applier's partition under load (at its
	// recent rate, 8 more messages within it) waits for more before
	// applying them in one target transaction: fewer, larger commits,
	// for at most this much more lag; a quieter partition applies at
	// once (default 50ms, 1ms to 500ms).
	ApplyWait time.Duration `yaml:"apply_wait"`
	// PublishWait is how long capture, while transactions arrive quickly
	// (at their recent rate, 8 more within it), waits for more before
	// sending them to Kafka in one request: fewer, larger produce
	// requests and fetches, for at most this much more lag under load; a
	// trickle goes at once (default 20ms, 1ms to 500ms).
	PublishWait time.Duration `yaml:"publish_wait"`
	// Topic is how each region's replication topic is made (regionctl
	// kafka init) and checked (regionctl preflight, kafka check).
	Topic Topic `yaml:"topic"`
}

// Topic is the shape of a region's replication topic (capture.Topic).
type Topic struct {
	// Partitions bounds how many partitions apply in parallel in every
	// other region (default 8). Adding partitions later moves buckets
	// between partitions; appliers follow, but plan it for a quiet time.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor is how many brokers hold each partition (default
	// 3), and MinInsyncReplicas how many must have a message before it
	// is acknowledged (default 2): with acks=all, one broker's loss then
	// loses nothing.
	ReplicationFactor int `yaml:"replication_factor"`
	MinInsyncReplicas int `yaml:"min_insync_replicas"`
	// Retention is how long Kafka keeps messages (default 168h): the
	// longest outage of an applier that replication survives without a
	// re-seed.
	Retention time.Duration `yaml:"retention"`
}

// Policy returns how the conflicts of table name ("db.table") are
// decided: its own entry, or for a table not listed the default policy.
func (r Replication) Policy(name string) Table {
	for _, t := range r.Tables {
		if t.Name == name {
			return t
		}
	}
	return Table{Name: name, Conflict: r.DefaultConflict}
}

// Globals returns the tables of class global, in file order.
func (r Replication) Globals() []Table {
	var out []Table
	for _, t := range r.Tables {
		if t.Class == ClassGlobal {
			out = append(out, t)
		}
	}
	return out
}

// Versioned returns the version column of db.table if its policy orders
// changes by version (last-writer-wins, home-cell-wins), else "".
func (r Replication) Versioned(db, table string) string {
	if t := r.Policy(db + "." + table); t.Conflict == ConflictLastWriterWins || t.Conflict == ConflictHomeCellWins {
		return t.VersionColumn
	}
	return ""
}

// HomeCell returns the version column of db.table if its policy is
// home-cell-wins, else "".
func (r Replication) HomeCell(db, table string) string {
	if t := r.Policy(db + "." + table); t.Conflict == ConflictHomeCellWins {
		return t.VersionColumn
	}
	return ""
}

// Router configures how requests find their user's cell, and the guards
// of a traffic switch.
type Router struct {
	// UserHeader, UserCookie and UserQuery say where the gateway finds a
	// request's user key, tried in that order (default header X-User-Id).
	UserHeader string `yaml:"user_header"`
	UserCookie string `yaml:"user_cookie"`
	UserQuery  string `yaml:"user_query"`
	// DefaultRegion receives requests that carry no user key; empty
	// answers them 400.
	DefaultRegion string `yaml:"default_region"`
	// RetryAfter is what a refused write is told to wait (default 1s).
	RetryAfter time.Duration `yaml:"retry_after"`
	// AckTimeout bounds the wait for every live router to apply a fence
	// (default 5s); a router that does not aborts the switch.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// MaxLag is the replication lag above which a switch does not fence,
	// or aborts (default 5s).
	MaxLag time.Duration `yaml:"max_lag"`
	// CatchUpTimeout bounds the wait for replication to apply what was
	// written before the fence (default 30s); past it the switch aborts.
	CatchUpTimeout time.Duration `yaml:"catch_up_timeout"`
	// GlobalWrites are the application routes that write a global table:
	// the gateway answers them 409, naming the home, outside the table's
	// home region, and 503 while a move fences it.
	GlobalWrites []GlobalWrite `yaml:"global_writes"`
	// ReadLevels set the consistency level of reads by route; a request's
	// X-Consistency header overrides it; without either a read is strong.
	ReadLevels []ReadLevel `yaml:"read_levels"`
	// SessionWait bounds how long a session read waits for the local
	// region to apply the client's last write before it is forwarded to
	// the owner (default 200ms).
	SessionWait time.Duration `yaml:"session_wait"`
}

// ReadLevel sets the consistency level of the reads of one route.
type ReadLevel struct {
	// Path is a path pattern: '*' matches one path segment (path.Match),
	// e.g. /users/*/requests; a prefix ending in '/' covers everything
	// under it.
	Path string `yaml:"path"`
	// Level is strong, session, eventual or bounded=DURATION.
	Level string `yaml:"level"`
}

// Read consistency levels (docs/consistency.md).
const (
	// ReadStrong reads from the owner: the user's cell's region.
	ReadStrong = "strong"
	// ReadSession reads locally once the local region has applied the
	// client's last write (its session token), else from the owner.
	ReadSession = "session"
	// ReadBounded reads locally while the local copy of the owner's data
	// is less than the bound old, else from the owner.
	ReadBounded = "bounded"
	// ReadEventual reads locally.
	ReadEventual = "eventual"
)

// ParseReadLevel parses strong, session, eventual or bounded=DURATION
// (e.g. bounded=2s) and returns the level and the bound.
func ParseReadLevel(s string) (string, time.Duration, error) {
	switch s {
	case ReadStrong, ReadSession, ReadEventual:
		return s, 0, nil
	}
	if b, ok := strings.CutPrefix(s, ReadBounded+"="); ok {
		d, err := time.ParseDuration(b)
		if err != nil || d <= 0 {
			return "", 0, fmt.Errorf("%q: the bound is not a positive duration: write e.g. bounded=2s", s)
		}
		return ReadBounded, d, nil
	}
	return "", 0, fmt.Errorf("%q is not a consistency level: use strong, session, eventual or bounded=DURATION (e.g. bounded=2s)", s)
}

// GlobalWrite declares one application route that writes a global table.
type GlobalWrite struct {
	// Path is the route's path: a prefix ending in '/' covers everything
	// under it (/products/), '*' matches one segment (/products/*/price).
	Path string `yaml:"path"`
	// Methods are the writing methods (default POST, PUT, PATCH, DELETE).
	Methods []string `yaml:"methods"`
	// Table is the global table the route writes ("db.table").
	Table string `yaml:"table"`
}

// Conflict policies.
const (
	ConflictOverwrite      = "overwrite"
	ConflictLastWriterWins = "last-writer-wins"
	ConflictHomeCellWins   = "home-cell-wins"
	ConflictReject         = "reject"
)

// Table classes (Table.Class).
const (
	// ClassUnit tables are sharded by a user column (Table.ShardColumn):
	// each user's rows are written in the user's cell's region.
	ClassUnit = "unit"
	// ClassGlobal tables have one writer region, their home (Table.Home
	// names the first; the routing table holds the live one), and a
	// read-only copy everywhere else.
	ClassGlobal = "global"
	// ClassLocal tables are never replicated: each region keeps its own
	// (caches, per-region job state).
	ClassLocal = "local"
)

// Table configures one replicated table.
type Table struct {
	// Name is "db.table"; a local table's may be a pattern ('*' matches
	// any run of characters).
	Name string `yaml:"name" json:"name"`
	// Class is unit, global, local, or empty: unit when ShardColumn is
	// set, otherwise a table every region may write, its conflict policy
	// deciding between them.
	Class string `yaml:"class" json:"class,omitempty"`
	// Home is the region that first writes a global table; later moves
	// (regionctl global move) live in the routing table, not here.
	Home string `yaml:"home" json:"home,omitempty"`
	// ShardColumn holds the user key whose bucket orders the table's
	// changes; empty makes the table global (keyed by table and primary key).
	ShardColumn string `yaml:"shard_column" json:"shard_column,omitempty"`
	// Conflict is one of overwrite, last-writer-wins, home-cell-wins, reject.
	Conflict string `yaml:"conflict" json:"conflict,omitempty"`
	// VersionColumn orders the changes of a last-writer-wins or
	// home-cell-wins table: every write raises it.
	VersionColumn string `yaml:"version_column" json:"version_column,omitempty"`
}

// Region returns the region with the given name.
func (c *Config) Region(name string) (*Region, bool) {
	for i := range c.Regions {
		if c.Regions[i].Name == name {
			return &c.Regions[i], true
		}
	}
	return nil, false
}

// RegionNames lists the regions in file order.
func (c *Config) RegionNames() []string {
	out := make([]string, len(c.Regions))
	for i, r := range c.Regions {
		out[i] = r.Name
	}
	return out
}
