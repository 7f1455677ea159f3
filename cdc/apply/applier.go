// Package apply is the apply stage of a replication link (source region ->
// target region): a Kafka consumer group on the source's capture topic
// whose every message becomes one target transaction that also records
// how far the partition is applied, in _region.apply_checkpoints. A
// restart resumes from that table, so the effect is exactly once although
// delivery is at least once; a message whose Seq is not above the
// partition's watermark was applied already and is skipped.
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
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// Config configures one link's applier.
type Config struct {
	// Source and Target are the link's regions.
	Source, Target string
	// DB is the target region's MySQL.
	DB *sql.DB
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
	// transactions write (router.History): a write it did not own is
	// logged in _region.violations and counted, then applied by the
	// table's policy like any other.
	Ownership Ownership
	// Deletes waits for the target region's capture to record the
	// target's own deletes (cdc/tombstone), which versioned policies need
	// to decide a change of a key the target lacks. Nil: the applier
	// decides from the tombstones already recorded (tests of one link).
	Deletes LocalDeletes
	// Head reports how far the source's capture has published (its
	// checkpoint), for lag in transactions. Optional.
	Head func(context.Context) (capture.Position, error)
	// Gate, if set, says whether the source's stream is held and which of
	// its transactions a failback discarded (the controller's decisions).
	Gate   Gate
	Logger *slog.Logger
	// Metrics, if set, receives the link's collectors.
	Metrics prometheus.Registerer
}

// LocalDeletes is what the applier needs of the target region's capture
// (capture.Capture implements it).
type LocalDeletes interface {
	// Recorded returns once every delete committed in the target before
	// the call is in its tombstone table, or an error saying why it
	// cannot be known yet (capture not running, or behind).
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

// GroupID is the consumer group of a link.
func GroupID(source, target string) string { return "region.apply." + source + "." + target }

// ConsumerConfig sets a sarama config for an applier.
func ConsumerConfig(sc *sarama.Config) {
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = time.Second
	sc.Consumer.Return.Errors = true
	sc.Consumer.Fetch.Default = 4 << 20
	// A partition whose fetch failed (its broker just restarted) tries
	// again after this long; sarama's 2 s default left a link idle that
	// long after its source region came back.
	sc.Consumer.Retry.Backoff = 250 * time.Millisecond
	sc.Consumer.Group.Session.Timeout = 6 * time.Second // Kafka's default minimum: a restarted applier waits this long for its old member
	sc.Consumer.Group.Heartbeat.Interval = time.Second
	sc.Metadata.AllowAutoTopicCreation = true
}

// Applier applies one link.
type Applier struct {
	cfg      Config
	log      *slog.Logger
	topic    string
	policies map[string]policy
	m        *metrics
	ddl      *barrier
	// catalog knows the target's unique keys and triggers.
	catalog *catalog.Cache

	mu    sync.Mutex
	parts map[int32]*PartitionStatus
	state string
	err   string
	rate  rate
	// client is the current Run's Kafka client (for offsets in Setup).
	client sarama.Client
	// lastMsg is when the last message arrived (unix nanoseconds).
	lastMsg atomic.Int64
	// joining is when the current session's Consume began, under mu.
	joining time.Time
	// lastPart is when each claimed partition last got a message (or its
	// session began), under mu.
	lastPart map[int32]time.Time
	// restart ends the current consumer group session (Run starts a new
	// one), under mu; nil outside Run.
	restart func()
	// unresolved counts quarantined messages not yet resolved, and
	// violations the ownership violations logged, under mu.
	unresolved, violations int
	// thru is how far each partition is known applied, and progress is
	// closed (and replaced) whenever one advances, under mu (order.go).
	thru     map[int32]uint64
	progress chan struct{}
}

// New checks cfg.
func New(cfg Config) (*Applier, error) {
	if cfg.Source == "" || cfg.Target == "" || cfg.DB == nil || cfg.Kafka == nil {
		return nil, errors.New("apply: Source, Target, DB and Kafka are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Applier{cfg: cfg, log: cfg.Logger.With("link", cfg.Source+"->"+cfg.Target), topic: capture.Topic(cfg.Source),
		policies: map[string]policy{}, parts: map[int32]*PartitionStatus{}, state: "starting",
		thru: map[int32]uint64{}, progress: make(chan struct{}), ddl: newBarrier(), catalog: &catalog.Cache{DB: cfg.DB}}
	for _, t := range cfg.Tables {
		a.policies[t.Name] = policy{name: t.Conflict, version: t.VersionColumn, shard: t.ShardColumn}
	}
	var err error
	if a.m, err = newMetrics(cfg.Metrics, cfg.Source, cfg.Target); err != nil {
		return nil, err
	}
	return a, nil
}

// Run applies until ctx ends. It returns nil then, or the error that
// stopped the consumer group (the caller restarts it).
func (a *Applier) Run(ctx context.Context) (err error) {
	defer func() {
		a.mu.Lock()
		a.state = "stopped"
		if err != nil {
			a.state, a.err = "failed", err.Error()
		}
		a.mu.Unlock()
	}()
	if err := EnsureSchema(ctx, a.cfg.DB); err != nil {
		return err
	}
	if err := a.countUnresolved(ctx); err != nil {
		return err
	}
	if err := a.countViolations(ctx); err != nil {
		return err
	}
	client, err := a.cfg.Kafka()
	if err != nil {
		return fmt.Errorf("apply: kafka of %s: %w", a.cfg.Source, err)
	}
	defer client.Close()
	group, err := sarama.NewConsumerGroupFromClient(GroupID(a.cfg.Source, a.cfg.Target), client)
	if err != nil {
		return fmt.Errorf("apply: consumer group: %w", err)
	}
	defer group.Close()
	a.mu.Lock()
	a.client = client
	a.mu.Unlock()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		for err := range group.Errors() {
			a.log.Warn("consumer group error", "err", err)
			// A broker that restarted may have moved the group on: this
			// session will never consume again, so start a new one.
			if errors.Is(err, sarama.ErrIllegalGeneration) || errors.Is(err, sarama.ErrUnknownMemberId) {
				cancel(fmt.Errorf("consumer group session is stale (%w): rejoining", err))
			}
		}
	}()
	go a.watchStall(ctx, cancel)
	a.touch()
	a.setState("running", "")
	for ctx.Err() == nil {
		// A session of its own, so that an operator's retry can end it
		// and the next one resumes the halted partitions.
		sctx, end := context.WithCancel(ctx)
		a.mu.Lock()
		a.restart = end
		a.joining = time.Now()
		a.mu.Unlock()
		err := group.Consume(sctx, []string{a.topic}, a)
		end()
		if err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
				break
			}
			return fmt.Errorf("apply: consume %s: %w", a.topic, err)
		}
	}
	a.mu.Lock()
	a.restart = nil
	a.mu.Unlock()
	if parent.Err() == nil {
		return context.Cause(ctx)
	}
	return nil
}

// stallTimeout is how long a link may go without any message before its
// consumer group session is presumed stuck and started again. Capture
// sends every partition a heartbeat at least every 250ms.
const stallTimeout = 10 * time.Second

func (a *Applier) touch() { a.lastMsg.Store(time.Now().UnixNano()) }

// watchStall cancels the session when no message arrived for stallTimeout.
func (a *Applier) watchStall(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if idle := time.Since(time.Unix(0, a.lastMsg.Load())); idle > stallTimeout {
				cancel(fmt.Errorf("no message from %s (not even a heartbeat) for %s: restarting the consumer group", a.topic, idle.Round(time.Second)))
				return
			}
			if p, idle, ok := a.stalledPart(); ok {
				cancel(fmt.Errorf("no message on partition %d of %s (not even a heartbeat) for %s: restarting the consumer group", p, a.topic, idle.Round(time.Second)))
				return
			}
		}
	}
}

func (a *Applier) touchPart(p int32) {
	a.mu.Lock()
	if a.lastPart != nil {
		a.lastPart[p] = time.Now()
	}
	a.mu.Unlock()
}

// stalledPart finds a claimed partition, not halted, that got nothing
// for stallTimeout while others may have: capture heartbeats every
// partition, so one that stays silent is stuck in this session.
func (a *Applier) stalledPart() (int32, time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, t := range a.lastPart {
		if ps := a.parts[p]; ps != nil && ps.State == "halted" {
			continue
		}
		if idle := time.Since(t); idle > stallTimeout {
			return p, idle, true
		}
	}
	return 0, 0, false
}

func (a *Applier) setState(state, err string) {
	a.mu.Lock()
	a.state, a.err = state, err
	a.mu.Unlock()
}

// Setup moves every claimed partition to the offset after its checkpoint:
// the target database, not Kafka's committed offset, says where to resume.
// The partitions are set up at once: each reads its checkpoint and the
// message at it (resumeOffset), which took up to half a second a partition
// one after the other, and left a link idle for seconds after its source's
// broker came back.
func (a *Applier) Setup(sess sarama.ConsumerGroupSession) error {
	claims := sess.Claims()[a.topic]
	a.ddl.reset(len(claims))
	a.mu.Lock()
	a.log.Info("consumer group session started", "partitions", claims, "generation", sess.GenerationID(), "joined_in", time.Since(a.joining).Round(time.Millisecond))
	a.lastPart = map[int32]time.Time{}
	for _, p := range claims {
		a.lastPart[p] = time.Now()
	}
	client := a.client
	a.mu.Unlock()
	next := make([]int64, len(claims))
	errs := make([]error, len(claims))
	var wg sync.WaitGroup
	for i, p := range claims {
		wg.Go(func() { next[i], errs[i] = a.setupPartition(sess.Context(), client, p) })
	}
	wg.Wait()
	for i, p := range claims {
		switch {
		case errors.Is(errs[i], errLogMismatch):
			// halted: ConsumeClaim sees the halt and waits
		case errs[i] != nil:
			return errs[i]
		default:
			sess.ResetOffset(a.topic, p, next[i], "")
			sess.MarkOffset(a.topic, p, next[i], "")
		}
	}
	return nil
}

// setupPartition loads partition p's checkpoint and returns the offset to
// resume from; a log that does not match the checkpoint halts p and
// returns errLogMismatch.
func (a *Applier) setupPartition(ctx context.Context, client sarama.Client, p int32) (int64, error) {
	cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, p)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	a.parts[p] = &PartitionStatus{Partition: p, State: "running", Checkpoint: cp}
	a.mu.Unlock()
	a.advance(p, cp.Seq)
	skipped, err := a.skippedAt(ctx, p, cp.Offset)
	if err != nil {
		return 0, err
	}
	next, err := resumeOffset(client, a.topic, p, cp, skipped)
	if errors.Is(err, errLogMismatch) {
		a.halt(p, cp.Offset, err)
	}
	return next, err
}

// Cleanup is called when a session ends.
func (a *Applier) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim applies one partition in order until the session ends.
func (a *Applier) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) (err error) {
	ctx := sess.Context()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("apply: partition %d panicked: %v", claim.Partition(), p)
			a.halt(claim.Partition(), -1, err)
		}
	}()
	if a.halted(claim.Partition()) {
		<-ctx.Done()
		return nil
	}
	w, err := newWorker(ctx, a, claim.Partition())
	if err != nil {
		a.halt(claim.Partition(), -1, err)
		<-ctx.Done()
		return nil
	}
	defer w.close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			// Take whatever else is already here: a partition that is
			// behind applies it in fewer, larger target transactions.
			batch := []*sarama.ConsumerMessage{msg}
		drain:
			for len(batch) < maxRun {
				select {
				case m, ok := <-claim.Messages():
					if !ok {
						break drain
					}
					batch = append(batch, m)
				default:
					break drain
				}
			}
			a.touch()
			a.touchPart(claim.Partition())
			a.setHighWater(claim.Partition(), claim.HighWaterMarkOffset())
			if !a.waitHeld(ctx, claim.Partition()) {
				return nil
			}
			n, err := w.handleBatch(ctx, batch)
			if n > 0 {
				sess.MarkMessage(batch[n-1], "")
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, ErrStaleSession) {
					// Another member applies this partition now: leave it,
					// and let a new session say which partitions are ours.
					a.log.Warn("partition moved to another applier: starting a new consumer group session", "partition", claim.Partition(), "err", err)
					a.mu.Lock()
					restart := a.restart
					a.mu.Unlock()
					if restart != nil {
						restart()
					}
					return nil
				}
				a.halt(claim.Partition(), batch[n].Offset, err)
				<-ctx.Done() // halted: apply nothing after it
				return nil
			}
		}
	}
}

// heldPoll is how often a held partition asks the gate (from memory)
// whether its stream was released: the partition resumes within it, before
// the failback that released it has switched its buckets back (500 ms
// left a drill's postcheck, right after the failback, seeing the link
// still as far behind as the whole failover).
const heldPoll = 50 * time.Millisecond

// waitHeld waits while the source's stream is held, with partition p's
// state "held"; false when ctx ended first.
func (a *Applier) waitHeld(ctx context.Context, p int32) bool {
	if a.cfg.Gate == nil || !a.cfg.Gate.Held() {
		return true
	}
	a.log.Warn("partition held: the source region's stream is held by a forced failover; nothing more of it is applied until a failback releases it", "partition", p)
	a.setPartState(p, "held")
	defer a.setPartState(p, "running")
	for a.cfg.Gate.Held() {
		a.touch()
		a.touchPart(p)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(heldPoll):
		}
	}
	a.log.Info("partition released: applying the source region's stream again", "partition", p)
	return true
}

func (a *Applier) setPartState(p int32, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps := a.parts[p]; ps != nil && ps.State != "halted" {
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
	ps.State, ps.Error, ps.HaltedAt = "halted", err.Error(), offset
}

func (a *Applier) halted(p int32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := a.parts[p]
	return ps != nil && ps.State == "halted"
}

func (a *Applier) setHighWater(p int32, hw int64) {
	a.mu.Lock()
	if ps := a.parts[p]; ps != nil {
		ps.HighWater = hw
	}
	a.mu.Unlock()
}

// applied records a partition's progress after a commit.
func (a *Applier) applied(p int32, cp Checkpoint, txns int) {
	a.mu.Lock()
	ps := a.parts[p]
	if ps == nil {
		ps = &PartitionStatus{Partition: p, State: "running"}
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
	// State is running, halted (a partition is halted), starting, stopped or failed.
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
}

// Status reports the link's progress and lag.
func (a *Applier) Status(ctx context.Context) LinkStatus {
	var head capture.Position
	var headErr error
	if a.cfg.Head != nil {
		head, headErr = a.cfg.Head(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := LinkStatus{From: a.cfg.Source, To: a.cfg.Target, State: a.state, Error: a.err, PublishedSeq: head.Seq, Quarantined: a.unresolved, Violations: a.violations}
	first := true
	var oldest time.Time
	for _, ps := range a.parts {
		st.Partitions = append(st.Partitions, *ps)
		st.TxnsApplied += ps.Txns
		switch {
		case ps.State == "halted":
			st.State, st.Error = "halted", fmt.Sprintf("partition %d: %s", ps.Partition, ps.Error)
		case ps.State == "held" && st.State != "halted":
			st.State, st.Error = "held", "the source region's stream is held by a forced failover until a failback releases it"
		}
		if first || ps.Seq < st.AppliedSeq {
			st.AppliedSeq, st.AppliedGTID, oldest = ps.Seq, ps.Pos, ps.SourceTime
			first = false
		}
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
	if headErr == nil && int32(len(a.parts)) < head.Partitions {
		// Some partitions are not claimed yet (a restart, a rebalance):
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
	a.m.lagTxns.Set(float64(st.LagTxns))
	a.m.lagSeconds.Set(st.LagSeconds)
	return st
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
