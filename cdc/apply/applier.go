// Package apply is the apply stage of a replication link (source region ->
// target region): a consumer of every partition of the source's capture
// topic whose every message becomes one target transaction that also
// records how far the partition is applied, in _region.apply_checkpoints.
// The consumer starts each partition from that table, not from offsets
// kept in Kafka, so the effect is exactly once although delivery is at
// least once; a message whose Seq is not above the partition's watermark
// was applied already and is skipped (consume.go).
//
// Partitions apply in parallel, each in order, on its own connection; a
// transaction that overlaps an earlier one of another partition (its
// event.Txn.Deps) waits until that partition has applied it (order.go).
// A message that cannot be applied halts its partition, loudly: the
// status says which message and why, and nothing after it is applied.
package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// Config configures one link's applier.
type Config struct {
	// Source and Target are the link's regions.
	Source, Target string
	// DB is the target region's MySQL; Flavor its kind, "mariadb" (the
	// default) or "mysql" (8.0.19+), whose statements differ a little.
	DB     *sql.DB
	Flavor string
	// Catalog is what the applier knows of the target's tables (their
	// keys, foreign keys, columns, triggers); nil: a cache of its own on
	// DB. The region's capture reads the region's own schema changes and
	// forgets what its cache knew: sharing it (as regiond does) makes the
	// appliers see such a change at once, not up to catalog.DefaultTTL
	// later.
	Catalog *catalog.Cache
	// Kafka dials the source region's Kafka with a config set by
	// ConsumerConfig; every Run dials anew and closes it when it returns.
	Kafka func() (sarama.Client, error)
	// Tables are the deployment's per-table settings (conflict policies);
	// DefaultConflict is the policy of every table not listed there
	// (replication.default_conflict; empty: reject).
	Tables          []config.Table
	DefaultConflict string
	// Buckets is the deployment's bucket count, and Owners says which
	// region owns a bucket (for home-cell-wins). Optional.
	Buckets int
	Owners  Owners
	// Origins records which region's change each row of a home-cell-wins
	// table holds (_region.origins), so that an equal-version conflict
	// knows whether the target's row is the owner's change: needed, and
	// set, with three regions or more.
	Origins bool
	// Ownership, if set, judges whether the source owned the buckets its
	// transactions write, and was the home of the global tables they
	// write (router.History): a write it did not own is logged in
	// _region.violations and counted, then applied by the table's policy
	// like any other.
	Ownership Ownership
	// Local waits for the target region's capture to record the target's
	// own deletes (cdc/tombstone) and home-cell-wins changes (cdc/claim),
	// which versioned policies need to decide a change of a key the
	// target lacks, or one that ties with the target's own change. Nil:
	// the applier decides from what is already recorded (tests of one
	// link).
	Local LocalRecords
	// Head reports how far the source's capture has published (its
	// checkpoint), for lag in transactions. Optional.
	Head func(context.Context) (capture.Position, error)
	// Gate, if set, says whether the source's stream is held and which of
	// its transactions a failback discarded (the controller's decisions).
	Gate Gate
	// BatchWait is how long a partition that received fewer messages than
	// a run may hold waits for more before applying them (a group
	// commit): under load, fewer and larger target transactions, at the
	// cost of at most this much lag. 0: apply at once.
	BatchWait time.Duration
	Logger    *slog.Logger
	// Metrics, if set, receives the link's collectors.
	Metrics prometheus.Registerer
}

// LocalRecords is what the applier needs of the target region's capture
// (capture.Capture implements it).
type LocalRecords interface {
	// Recorded returns once every delete and home-cell-wins change
	// committed in the target before the call is in its tombstone and
	// claim tables, or an error saying why it cannot be known yet
	// (capture not running, or behind).
	Recorded(ctx context.Context) error
}

// Gate is what the failover controller decided about a link's source.
// The applier's partitions call it concurrently, once per message: it
// must answer from memory.
type Gate interface {
	// Held reports whether the source's stream is held: nothing of it is
	// applied while it is (a forced failover took the source out; its
	// later transactions wait for the failback's decision).
	Held() bool
	// Discarded reports whether a source transaction was discarded (a
	// failback dropped the failover's RPO): it is skipped and its
	// position recorded as applied.
	Discarded(gtid string) bool
}

// Owners says which region owns a bucket now. The applier's partitions
// call it concurrently: it must answer from memory.
type Owners interface {
	Owner(b topo.Bucket) string
}

// OwnerFunc is a function that is an Owners.
type OwnerFunc func(topo.Bucket) string

// Owner calls f.
func (f OwnerFunc) Owner(b topo.Bucket) string { return f(b) }

// Source is the link's source region.
func (a *Applier) Source() string { return a.cfg.Source }

// ConsumerConfig sets a sarama config for an applier.
func ConsumerConfig(sc *sarama.Config) {
	sc.Consumer.Return.Errors = true
	sc.Consumer.Fetch.Default = 4 << 20
	// A partition whose fetch failed (its broker just restarted) tries
	// again after this long; sarama's 2 s default left a link idle that
	// long after its source region came back.
	sc.Consumer.Retry.Backoff = 250 * time.Millisecond
	sc.Metadata.AllowAutoTopicCreation = false
}

// Applier applies one link.
type Applier struct {
	cfg      Config
	log      *slog.Logger
	topic    string
	policies map[string]policy
	dialect  dialect
	m        *metrics
	ddl      *barrier
	// catalog knows the target's unique keys and triggers.
	catalog *catalog.Cache
	// seed is what the tables copied into the target hold (nil: nothing
	// was seeded); read at each session's start, used by its partitions.
	seed *seed.Plan

	mu    sync.Mutex
	parts map[int32]*PartitionStatus
	state string
	err   string
	rate  rate
	// client is the current Run's Kafka client (Skip reads with it).
	client sarama.Client
	// nparts is how many partitions the current session consumes, under mu.
	nparts int
	// lastPart is when each partition last got a message (or its session
	// began), under mu.
	lastPart map[int32]time.Time
	// restart ends the current session (Run starts a new one from the
	// checkpoints), under mu; nil outside a session.
	restart func()
	// unresolved counts quarantined messages not yet resolved, and
	// violations the ownership violations logged, under mu.
	unresolved, violations int
	// thru is how far each partition is known applied, and progress is
	// closed (and replaced) whenever one advances, under mu (order.go).
	thru     map[int32]uint64
	progress chan struct{}
	// needs holds, for each partition, what the messages its worker holds
	// depend on in each other partition (sorted seqs), under mu
	// (order.go).
	needs map[int32]map[int32][]uint64
	// pause is the operator's pause of the link (nil: not paused), and
	// resumed is closed when it ends, under mu (pause.go).
	pause   *Pause
	resumed chan struct{}
}

// New checks cfg.
func New(cfg Config) (*Applier, error) {
	if cfg.Source == "" || cfg.Target == "" || cfg.DB == nil || cfg.Kafka == nil {
		return nil, errors.New("apply: Source, Target, DB and Kafka are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Catalog == nil {
		cfg.Catalog = &catalog.Cache{DB: cfg.DB}
	}
	a := &Applier{cfg: cfg, log: cfg.Logger.With("link", cfg.Source+"->"+cfg.Target), topic: capture.Topic(cfg.Source),
		policies: map[string]policy{}, parts: map[int32]*PartitionStatus{}, state: StateStarting,
		thru: map[int32]uint64{}, needs: map[int32]map[int32][]uint64{}, progress: make(chan struct{}), ddl: newBarrier(), catalog: cfg.Catalog}
	for _, t := range cfg.Tables {
		a.policies[t.Name] = policy{name: t.Conflict, version: t.VersionColumn, shard: t.ShardColumn, global: t.Class == config.ClassGlobal}
	}
	a.dialect = dialectOf(cfg.Flavor)
	var err error
	if a.m, err = newMetrics(cfg.Metrics, a); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Applier) setState(state, err string) {
	a.mu.Lock()
	a.state, a.err = state, err
	a.mu.Unlock()
}

func (a *Applier) setPartState(p int32, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps := a.parts[p]; ps != nil && ps.State != StateHalted {
		ps.State = state
	}
}

func (a *Applier) halt(p int32, offset int64, err error) {
	a.log.Error("partition halted: nothing after this message is applied until it is fixed", "partition", p, "offset", offset, "err", err)
	a.m.halted.Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := a.parts[p]
	if ps == nil {
		ps = &PartitionStatus{Partition: p}
		a.parts[p] = ps
	}
	ps.State, ps.Error, ps.HaltedAt = StateHalted, err.Error(), offset
}

// applied records a partition's progress after a commit.
func (a *Applier) applied(p int32, cp Checkpoint, txns int) {
	a.mu.Lock()
	ps := a.parts[p]
	if ps == nil {
		ps = &PartitionStatus{Partition: p, State: StateRunning}
		a.parts[p] = ps
	}
	ps.Checkpoint = cp
	ps.Txns += uint64(txns)
	a.mu.Unlock()
	a.advance(p, cp.Seq)
}

// PartitionStatus is how far one partition of a link is applied.
type PartitionStatus struct {
	Partition int32 `json:"partition"`
	// State is running, waiting (its next transaction waits for another
	// partition: Waiting says which) or halted.
	State   string `json:"state"`
	Error   string `json:"error,omitempty"`
	Waiting string `json:"waiting,omitempty"`
	// HaltedAt is the offset of the message that halted the partition.
	HaltedAt int64 `json:"halted_at,omitempty"`
	// Checkpoint is how far the partition is applied.
	Checkpoint
	HighWater int64  `json:"high_water"`
	Txns      uint64 `json:"txns"`
	// FetchError is the last fetch's failure, until a message arrives.
	FetchError string `json:"fetch_error,omitempty"`
	// idle: everything the partition received is applied.
	idle bool
}

// Consumed reports whether every partition has applied everything its
// Kafka partition held when it last fetched (the message before the
// high-water mark): what a forced failover's drain waits for, since the
// source capture's published checkpoint (LagTxns) can be a moment older
// than what Kafka acknowledged.
func (l LinkStatus) Consumed() bool {
	for _, p := range l.Partitions {
		if p.Offset+1 < p.HighWater {
			return false
		}
	}
	return true
}

// LinkStatus is a link's state, as regionctl status shows it.
type LinkStatus struct {
	From string `json:"from"`
	To   string `json:"to"`
	// State is running, halted (a partition is halted), held (a forced
	// failover holds the source's stream), paused (by an operator; Pause
	// says who and why), unreachable (no partition can
	// fetch, and everything received is applied), starting, stopped or
	// failed.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// AppliedSeq is the link's watermark: every source transaction up to
	// it is applied. AppliedGTID is the source GTID set at the watermark.
	AppliedSeq  uint64 `json:"applied_seq"`
	AppliedGTID string `json:"applied_gtid"`
	// PublishedSeq is how far the source's capture has published.
	PublishedSeq uint64  `json:"published_seq"`
	LagTxns      uint64  `json:"lag_txns"`
	LagSeconds   float64 `json:"lag_seconds"`
	// TxnsApplied counts transactions applied since start; Throughput is
	// transactions per second over the last seconds.
	TxnsApplied uint64            `json:"txns_applied"`
	Throughput  float64           `json:"throughput"`
	Partitions  []PartitionStatus `json:"partitions"`
	// Quarantined counts messages an operator skipped that nobody has
	// resolved yet (regionctl link show lists them).
	Quarantined int `json:"quarantined"`
	// Violations counts the writes of buckets the source did not own
	// (_region.violations).
	Violations int `json:"violations"`
	// Pause is the operator's pause, while the link is paused.
	Pause *Pause `json:"pause,omitempty"`
}

// The states of a link (LinkStatus.State) and of its partitions
// (PartitionStatus.State: running, halted, held).
const (
	// StateStarting: the link has not read its partitions yet.
	StateStarting = "starting"
	// StateRunning: every partition applies what arrives.
	StateRunning = "running"
	// StateHalted: a partition stopped on a message it cannot apply; an
	// operator decides (regionctl link retry or skip).
	StateHalted = "halted"
	// StateHeld: a forced failover holds the source's stream until a
	// failback decides what of it applies.
	StateHeld = "held"
	// StatePaused: an operator paused the link (regionctl link pause);
	// nothing of it is applied until someone resumes it.
	StatePaused = "paused"
	// StateUnreachable: the source's Kafka cannot be read, and everything
	// received is applied.
	StateUnreachable = "unreachable"
	// StateFailed: the link stopped on an error and is restarted.
	StateFailed = "failed"
	// StateStopped: the link's Run returned.
	StateStopped = "stopped"
)

// States lists every link state.
var States = []string{StateStarting, StateRunning, StateHalted, StateHeld, StatePaused, StateUnreachable, StateFailed, StateStopped}

// Status reports the link's progress and lag.
func (a *Applier) Status(ctx context.Context) LinkStatus {
	head, headErr := a.head(ctx)
	return a.status(head, headErr)
}

// WaitApplied waits, at most wait, until applied (the caller's check of
// a GTID set, e.g. that it covers a position) holds for the link's
// applied watermark, and returns the link's status then and whether it
// held. It looks again whenever a partition commits, not on a timer, and
// returns at once when the link is not running (halted, paused, held).
// The status's lag and published sequence are as of the wait's start.
func (a *Applier) WaitApplied(ctx context.Context, applied func(gtid string) bool, wait time.Duration) (LinkStatus, bool) {
	head, headErr := a.head(ctx)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		changed := a.progressed()
		st := a.status(head, headErr)
		if st.AppliedGTID != "" && applied(st.AppliedGTID) {
			return st, true
		}
		if st.State != StateRunning {
			return st, false
		}
		select {
		case <-changed:
		case <-timer.C:
			return st, false
		case <-ctx.Done():
			return st, false
		}
	}
}

// head is where the source's capture has published to.
func (a *Applier) head(ctx context.Context) (capture.Position, error) {
	if a.cfg.Head == nil {
		return capture.Position{}, nil
	}
	return a.cfg.Head(ctx)
}

// status is Status given the source's head.
func (a *Applier) status(head capture.Position, headErr error) LinkStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := LinkStatus{From: a.cfg.Source, To: a.cfg.Target, State: a.state, Error: a.err, PublishedSeq: head.Seq, Quarantined: a.unresolved, Violations: a.violations, Pause: a.pause}
	first := true
	var oldest time.Time
	for _, ps := range a.parts {
		st.Partitions = append(st.Partitions, *ps)
		st.TxnsApplied += ps.Txns
		switch {
		case ps.State == StateHalted:
			st.State, st.Error = StateHalted, fmt.Sprintf("partition %d: %s", ps.Partition, ps.Error)
		case ps.State == StateHeld && st.State != StateHalted:
			st.State, st.Error = StateHeld, "the source region's stream is held by a forced failover until a failback releases it"
		}
		if first || ps.Seq < st.AppliedSeq {
			st.AppliedSeq, st.AppliedGTID, oldest = ps.Seq, ps.Pos, ps.SourceTime
			first = false
		}
	}
	if st.State == StateRunning {
		st.State, st.Error = unreachable(a.parts)
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
	if headErr == nil && int32(len(a.parts)) < head.Partitions {
		// Some partitions are not set up yet (a restart, a new partition):
		// the link's watermark is unknown until every one reports.
		st.AppliedSeq, st.AppliedGTID, oldest = 0, "", time.Time{}
	}
	if headErr == nil && head.Seq > st.AppliedSeq {
		st.LagTxns = head.Seq - st.AppliedSeq
		if !oldest.IsZero() {
			st.LagSeconds = time.Since(oldest).Seconds()
		}
	}
	st.Throughput = a.rate.update(time.Now(), st.TxnsApplied)
	return st
}

// unreachable returns state "unreachable" and why when every partition
// that is not halted cannot fetch and has applied everything it received
// (the source's Kafka is gone, and nothing more will come until it is
// back), else "running".
func unreachable(parts map[int32]*PartitionStatus) (string, string) {
	why := ""
	for _, ps := range parts {
		switch {
		case ps.State == StateHalted:
		case ps.FetchError == "" || !ps.idle:
			return StateRunning, ""
		default:
			why = fmt.Sprintf("partition %d: %s", ps.Partition, ps.FetchError)
		}
	}
	if why == "" {
		return StateRunning, ""
	}
	return StateUnreachable, "the source region's Kafka cannot be read (" + why + "); everything received is applied"
}

// rate measures transactions per second over a sliding window.
type rate struct {
	t   time.Time
	n   uint64
	val float64
}

func (r *rate) update(now time.Time, n uint64) float64 {
	switch {
	case r.t.IsZero() || n < r.n:
		r.t, r.n = now, n
	case now.Sub(r.t) >= 2*time.Second:
		r.val = float64(n-r.n) / now.Sub(r.t).Seconds()
		r.t, r.n = now, n
	}
	return r.val
}
