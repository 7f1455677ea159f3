// Package capture publishes one region's binlog to Kafka: the reader
// (package binlog) feeds whole transactions through a bounded buffer to
// the publisher, which sends them in batches with an idempotent producer
// and, once Kafka has acknowledged a batch, checkpoints the source
// position. A restart resumes from the checkpoint and re-sends, never
// skips; the applier drops what it already applied (by Seq).
//
//	c, err := capture.New(capture.Config{Region: "a", Reader: r, Kafka: dialKafka, Checkpoints: cp})
//	err = c.Run(ctx) // until ctx ends or a failure; the caller restarts it
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/pace"
)

// sendAtLeast is how many more transactions a send's wait must expect
// (at their recent rate) to be worth it: below that (400 a second with
// the default 20 ms) the requests a wait saves are few, and the lag it
// adds is what a traffic switch's write-forbidden window waits for.
const sendAtLeast = 8

// Config configures a capture.
type Config struct {
	// Region is the source region.
	Region string
	// Reader reads the region's binlog.
	Reader *binlog.Reader
	// Kafka dials the region's Kafka with a config set by ProducerConfig;
	// every Run dials anew and closes the client when it returns.
	Kafka func() (sarama.Client, error)
	// Checkpoints stores the published position.
	Checkpoints Checkpoints
	// Catalog reads the source's secondary unique keys, for writesets
	// (see Writeset), and records the columns the source's own schema
	// changes drop (catalog.DroppedColumns); nil orders transactions by
	// primary keys only and records nothing.
	Catalog *catalog.Cache
	// Versioned names the version column of a table whose conflicts are
	// decided by version (last-writer-wins, home-cell-wins; "" for any
	// other table): capture records the region's own deletes of
	// such rows as tombstones (cdc/tombstone) in Catalog's database, which
	// the region's appliers wait for (Recorded). Nil records none.
	Versioned func(db, table string) string
	// HomeCell names the version column of a home-cell-wins table ("" for
	// any other table): capture records the region's own changes of such
	// rows with their routing stamp as claims (cdc/claim), which the
	// region's appliers read when an incoming change ties with one. It
	// needs Versioned; nil records none.
	HomeCell func(db, table string) string
	// CheckBinlog, if set, is called before every run with the GTID set
	// capture resumes from: it may find that the source's binlog lost it
	// (seed.CheckBinlog) and fail the run, or repair it.
	CheckBinlog func(ctx context.Context, published string) error
	// Preflight, if set, checks before every run that the source is
	// configured so that capture loses nothing (preflight.Source); its
	// error stops the run and shows in Stats.
	Preflight func(context.Context) error
	// Buffer bounds the transactions read but not yet sent (default 4096).
	Buffer int
	// MaxBatch is the most transactions per send (default 512).
	MaxBatch int
	// PublishWait is how long a send waits for more transactions while
	// they arrive quickly enough (pace.Arrivals: sendAtLeast or more
	// within the wait), so that one produce request carries many; below
	// that a transaction goes at once (replication.publish_wait; 0: what
	// is at hand goes at once).
	PublishWait time.Duration
	// MaxMessageBytes splits larger transactions into fragments (default 512 KiB).
	MaxMessageBytes int
	// Heartbeat is how soon a partition that got nothing learns that the
	// source's position moved (default 50ms: a session read waits for the low watermark of every partition, docs/consistency.md). While the position stays
	// where a partition's last heartbeat put it, the partition gets one
	// every IdleHeartbeat only (default 2s: well within the applier's
	// 10 s stall timeout), which is most of an idle region's messages.
	Heartbeat     time.Duration
	IdleHeartbeat time.Duration
	// Switching, if set, reports whether a traffic switch is waiting for
	// replication. While it does, every batch read (sent, or only echoes
	// and filtered transactions) is followed at once by a heartbeat to
	// each partition whose position it moved, instead of within
	// Heartbeat: a switch waits until every partition of the link has
	// passed the old owner's position, which often ends with what the
	// region's appliers wrote (echoes, never sent), and the partitions
	// would otherwise pass it only with their next transaction or
	// heartbeat.
	Switching func() bool
	// CheckpointEvery is the least time between two checkpoint writes
	// (default 200ms). A crash re-sends at most that much, which the
	// applier skips.
	CheckpointEvery time.Duration
	Logger          *slog.Logger
	// Metrics, if set, receives the capture's collectors.
	Metrics prometheus.Registerer
}

// Stats is a snapshot of what a capture has done since it started.
type Stats struct {
	// Published is the checkpointed position (at most CheckpointEvery
	// behind what Kafka acknowledged).
	Published Position `json:"published"`
	// Txns counts transactions published, Echoes those skipped because an
	// applier wrote them, Filtered those with nothing replicated.
	Txns     uint64 `json:"txns"`
	Echoes   uint64 `json:"echoes"`
	Filtered uint64 `json:"filtered"`
	// Running is false after Run returned.
	Running bool   `json:"running"`
	Error   string `json:"error,omitempty"`
}

// Capture is one region's capture.
type Capture struct {
	cfg   Config
	log   *slog.Logger
	topic string
	m     *metrics

	// expired is when tombstones were last expired (publish's goroutine).
	expired time.Time

	mu    sync.Mutex
	stats Stats
	// recorded is the binlog position up to which the region's deletes
	// are recorded; recordedCh is closed (and replaced) when it moves.
	recorded   string
	recordedCh chan struct{}
}

// New checks cfg and registers metrics.
func New(cfg Config) (*Capture, error) {
	if cfg.Region == "" || cfg.Reader == nil || cfg.Kafka == nil || cfg.Checkpoints == nil {
		return nil, errors.New("capture: Region, Reader, Kafka and Checkpoints are required")
	}
	if cfg.Versioned != nil && cfg.Catalog == nil {
		return nil, errors.New("capture: Versioned needs Catalog (the region's database, where tombstones are kept)")
	}
	if cfg.HomeCell != nil && cfg.Versioned == nil {
		return nil, errors.New("capture: HomeCell needs Versioned (claims are recorded with the tombstones)")
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = 4096
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 512
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 512 << 10
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 50 * time.Millisecond
	}
	if cfg.IdleHeartbeat == 0 {
		cfg.IdleHeartbeat = 2 * time.Second
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Capture{cfg: cfg, log: cfg.Logger.With("capture", cfg.Region), topic: Topic(cfg.Region), recordedCh: make(chan struct{})}
	var err error
	if c.m, err = newMetrics(cfg.Metrics, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Stats returns a snapshot of the capture's progress.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run captures until ctx ends (returning nil) or a stage fails (returning
// its error after stopping the other stage).
func (c *Capture) Run(ctx context.Context) (err error) {
	c.mu.Lock()
	c.stats.Running, c.stats.Error = true, ""
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.stats.Running = false
		if err != nil {
			c.stats.Error = err.Error()
			c.m.errors.Inc()
		}
		c.mu.Unlock()
	}()
	if c.cfg.Preflight != nil {
		if err := c.cfg.Preflight(ctx); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	start, err := c.cfg.Checkpoints.Load(ctx)
	if err != nil {
		return err
	}
	if c.cfg.CheckBinlog != nil {
		if err := c.cfg.CheckBinlog(ctx, start.Pos); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	client, err := c.cfg.Kafka()
	if err != nil {
		return fmt.Errorf("capture: kafka: %w", err)
	}
	defer client.Close()
	partitions, err := client.Partitions(c.topic)
	if err != nil {
		return fmt.Errorf("capture: topic %s: %w (regionctl kafka init creates it as replication.topic says)", c.topic, err)
	}
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return fmt.Errorf("capture: producer: %w", err)
	}
	defer producer.Close()
	c.mu.Lock()
	c.stats.Published = start
	c.mu.Unlock()
	if err := c.startRecording(ctx, start.Pos); err != nil {
		return err
	}
	c.log.Info("capture starting", "from", start.Pos, "seq", start.Seq, "topic", c.topic, "partitions", len(partitions))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan binlog.Item, c.cfg.Buffer)
	readErr := make(chan error, 1)
	go func() {
		err := c.cfg.Reader.Run(ctx, start.Pos, items)
		if err == nil && ctx.Err() == nil {
			err = errors.New("binlog reader stopped")
		}
		readErr <- err
		cancel()
	}()
	pubErr := c.publish(ctx, producer, int32(len(partitions)), start, items)
	cancel()
	rerr := <-readErr
	switch {
	case pubErr != nil:
		return pubErr
	case rerr != nil && !errors.Is(rerr, context.Canceled):
		return rerr
	}
	return nil
}

// publish sends what the reader delivers, batch by batch, checkpointing
// after each acknowledged batch, and heartbeats idle partitions.
func (c *Capture) publish(ctx context.Context, p sarama.SyncProducer, partitions int32, pos Position, items <-chan binlog.Item) error {
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	sent := make([]sentMark, partitions)
	order := newDeps(partitions, pos.Seq, maxHistory)
	// pos is what Kafka acknowledged; safe the last of it a restart may
	// resume from (not past a prepared XA transaction: binlog.Item.Hold);
	// saved what the checkpoint holds.
	safe := pos
	saved, savedAt := pos, time.Now()
	var arr pace.Arrivals
	save := func() error {
		if safe.Pos == saved.Pos {
			return nil
		}
		safe.Partitions = partitions
		if err := c.cfg.Checkpoints.Save(ctx, safe); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture: %w", err)
		}
		saved, savedAt = safe, time.Now()
		c.m.seq.Set(float64(safe.Seq))
		c.mu.Lock()
		c.stats.Published = safe
		c.mu.Unlock()
		return nil
	}
	for {
		var batch []binlog.Item
		select {
		case <-ctx.Done():
			// Keep what Kafka acknowledged, so a clean restart re-sends nothing.
			if safe.Pos != saved.Pos {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = c.cfg.Checkpoints.Save(sctx, safe)
				cancel()
			}
			return nil
		case it := <-items:
			now := time.Now()
			var wait time.Duration
			if arr.Busy(now, c.cfg.PublishWait, sendAtLeast) {
				wait = c.cfg.PublishWait
			}
			batch = pace.Collect(ctx, items, it, c.cfg.MaxBatch, wait)
			arr.Note(now, len(batch))
		case <-tick.C:
			n, err := c.heartbeats(p, partitions, pos, sent, c.cfg.Heartbeat)
			if err != nil {
				return err
			}
			c.m.heartbeats.Add(float64(n))
			if err := c.expire(ctx); err != nil {
				return err
			}
			// Under load the batches save every CheckpointEvery; a tick
			// (every Heartbeat) saves what a quiet spell left unsaved.
			if time.Since(savedAt) >= c.cfg.CheckpointEvery {
				if err := save(); err != nil {
					return err
				}
			}
			continue
		}
		if err := c.record(ctx, batch); err != nil {
			return err
		}
		next := pos
		var msgs []*sarama.ProducerMessage
		var txns, echoes, filtered uint64
		for _, it := range batch {
			next.Pos, next.Time = it.Pos, it.Time
			switch {
			case it.Echo:
				echoes++
			case it.Txn == nil:
				filtered++
			default:
				next.Seq++
				txns++
				part := Partition(Key(it.Txn), partitions)
				c.order(ctx, order, it.Txn, part, next.Seq)
				ms, err := messages(c.topic, c.cfg.Region, next.Seq, it, part, partitions, c.cfg.MaxMessageBytes)
				if err != nil {
					return fmt.Errorf("capture: %w", err)
				}
				msgs = append(msgs, ms...)
			}
			if !it.Hold {
				safe = next
			}
		}
		if len(msgs) > 0 {
			t := time.Now()
			if err := p.SendMessages(msgs); err != nil {
				return fmt.Errorf("capture: send to %s: %w", c.topic, err)
			}
			c.m.sendSeconds.Observe(time.Since(t).Seconds())
			now := time.Now()
			for _, m := range msgs {
				sent[m.Partition] = sentMark{at: now} // a transaction's own position: not pos
			}
		}
		pos = next // acknowledged by Kafka
		// Even a batch of echoes alone moves the position a switch waits
		// for: the old owner's position ends with what its appliers wrote.
		if c.cfg.Switching != nil && c.cfg.Switching() {
			n, err := c.heartbeats(p, partitions, pos, sent, 0)
			if err != nil {
				return err
			}
			c.m.switchHeartbeats.Add(float64(n))
		}
		if time.Since(savedAt) >= c.cfg.CheckpointEvery {
			if err := save(); err != nil {
				return err
			}
		}
		c.m.txns.Add(float64(txns))
		c.m.echoes.Add(float64(echoes))
		c.m.messages.Add(float64(len(msgs)))
		c.mu.Lock()
		c.stats.Txns += txns
		c.stats.Echoes += echoes
		c.stats.Filtered += filtered
		c.mu.Unlock()
	}
}

// order sets t.Deps from its writeset. A schema change needs none (it is
// a barrier across partitions) but makes the unique keys be read again.
// When the source's unique keys cannot be read, t depends on everything
// before it: slower, never out of order. So does a transaction that set
// off a foreign key's action (firesActions), and everything after it
// depends on it.
func (c *Capture) order(ctx context.Context, d *deps, t *event.Txn, part int32, seq uint64) {
	if t.DDL != nil {
		if c.cfg.Catalog != nil {
			c.cfg.Catalog.Forget()
			if db, table, cols := catalog.DroppedColumns(t.DDL.Schema, t.DDL.Statement); len(cols) > 0 {
				if err := c.cfg.Catalog.RecordDropped(ctx, db, table, cols, t.GTID, t.DDL.Statement); err != nil {
					c.log.Warn("dropped columns not recorded: the other regions' rows that still carry them will halt their links here", "table", db+"."+table, "cols", cols, "err", err)
				}
			}
		}
		return
	}
	var failed error
	uks := func(tb *event.Table) []catalog.Key {
		if c.cfg.Catalog == nil || failed != nil {
			return nil
		}
		ks, err := c.cfg.Catalog.UniqueKeys(ctx, tb.Schema, tb.Name)
		failed = err
		return ks
	}
	ws := Writeset(t, uks)
	fires := false
	if failed == nil && c.cfg.Catalog != nil {
		fires, failed = firesActions(ctx, c.cfg.Catalog, t)
	}
	if failed != nil {
		c.log.Warn("writeset unknown: the transaction waits for every earlier one", "gtid", t.GTID, "seq", seq, "err", failed)
		t.Deps = d.all(part, seq)
		return
	}
	if fires {
		t.Deps = d.all(part, seq)
		return
	}
	t.Deps = d.add(ws, part, seq)
}

// sentMark is what a partition was last sent: when, and the position a
// heartbeat gave it ("" after a transaction's message).
type sentMark struct {
	at  time.Time
	pos string
}

// due reports whether a partition last sent m needs a heartbeat at now,
// the source being published up to pos: after a heartbeat interval
// (every) if its position is not pos, else after an idle one.
func (m sentMark) due(now time.Time, pos string, every, idle time.Duration) bool {
	since := now.Sub(m.at)
	return since >= every && (m.pos != pos || since >= idle)
}

// heartbeats sends the published watermark to every partition that got
// nothing for every (a heartbeat interval; 0: right after a batch) and
// does not hold that position yet (or got nothing for an idle heartbeat
// interval), so every partition's applier knows how far the source has
// been published even when its buckets are idle. It returns how many it
// sent.
func (c *Capture) heartbeats(p sarama.SyncProducer, partitions int32, pos Position, sent []sentMark, every time.Duration) (int, error) {
	now := time.Now()
	var msgs []*sarama.ProducerMessage
	for part := int32(0); part < partitions; part++ {
		if !sent[part].due(now, pos.Pos, every, c.cfg.IdleHeartbeat) {
			continue
		}
		m, err := heartbeat(c.topic, c.cfg.Region, part, pos)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, m)
		sent[part] = sentMark{at: now, pos: pos.Pos}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := p.SendMessages(msgs); err != nil {
		return 0, fmt.Errorf("capture: heartbeat to %s: %w", c.topic, err)
	}
	return len(msgs), nil
}
