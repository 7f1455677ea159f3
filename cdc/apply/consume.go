package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/pace"
)

// How a link reads its source's topic. The applier consumes every
// partition itself, from the offset after the partition's checkpoint in
// the target database, without a Kafka consumer group: the database, not
// the group's committed offsets, says where to resume, and the group's
// heartbeats shared the broker connection with the fetches, so every
// fetch waited for a heartbeat's round trip too (two WAN round trips per
// fetch instead of one), and a restarted applier waited out its old
// member's session. One regiond runs a region's appliers; should a
// second one apply the same partition, the checkpoint row stops it
// (ErrStaleSession) before it commits anything twice.

// errRestart ends a session so that Run starts a new one with the same
// Kafka client: an operator's retry, a partition whose checkpoint another
// applier moved, or a topic whose partitions changed.
var errRestart = errors.New("restart the link's session")

// Run applies until ctx ends. It returns nil then, or the error that
// stopped it (the caller restarts it).
func (a *Applier) Run(ctx context.Context) (err error) {
	defer func() {
		a.mu.Lock()
		a.state = StateStopped
		if err != nil {
			a.state, a.err = StateFailed, err.Error()
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
	if err := a.loadPause(ctx); err != nil {
		return err
	}
	client, err := a.cfg.Kafka()
	if err != nil {
		return fmt.Errorf("apply: kafka of %s: %w", a.cfg.Source, err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("apply: consumer: %w", err)
	}
	defer consumer.Close()
	a.mu.Lock()
	a.client = client
	a.mu.Unlock()
	a.setState(StateRunning, "")
	for ctx.Err() == nil {
		if !a.waitResumed(ctx, client) {
			return nil
		}
		// Read at every session: a table seeded into the running region
		// (regionctl seed, with the links paused) is filtered from its
		// resume on.
		if err := a.loadSeed(ctx); err != nil {
			return err
		}
		if err := a.session(ctx, client, consumer); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// session consumes every partition of the topic from its checkpoint until
// ctx ends (nil), something asks for a restart (nil), or a partition or
// the whole link stalls (the error).
func (a *Applier) session(ctx context.Context, client sarama.Client, consumer sarama.Consumer) error {
	parts, err := client.Partitions(a.topic)
	if err != nil {
		return fmt.Errorf("apply: partitions of %s: %w", a.topic, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	a.ddl.reset(len(parts))
	a.mu.Lock()
	if a.pause != nil { // paused between the loop's check and here
		a.mu.Unlock()
		return nil
	}
	a.restart = func() { cancel(errRestart) }
	a.nparts = len(parts)
	a.lastPart = map[int32]time.Time{}
	for _, p := range parts {
		a.lastPart[p] = start
	}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.restart = nil
		a.mu.Unlock()
	}()
	// The partitions are set up at once: each reads its checkpoint and the
	// message at it (resumeOffset), which took up to half a second a
	// partition one after the other.
	next := make([]int64, len(parts))
	errs := make([]error, len(parts))
	var setup sync.WaitGroup
	for i, p := range parts {
		setup.Go(func() { next[i], errs[i] = a.setupPartition(ctx, client, p) })
	}
	setup.Wait()
	if errors.Is(context.Cause(ctx), errRestart) {
		return nil // a pause or a retry during the set-up: its errors are the cancellation's
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	for i, p := range parts {
		switch {
		case errors.Is(errs[i], errHalted):
			continue // nothing of it is applied until an operator acts
		case errs[i] != nil:
			return errs[i]
		}
		pc, err := consumer.ConsumePartition(a.topic, p, next[i])
		if err != nil {
			return fmt.Errorf("apply: consume %s/%d from offset %d: %w", a.topic, p, next[i], err)
		}
		wg.Go(func() {
			a.consume(ctx, p, pc)
			pc.AsyncClose()
		})
		wg.Go(func() {
			// sarama fetches again by itself (the broker may come back);
			// the partition records the failure until a message arrives,
			// so that status can say the source cannot be read once
			// everything received is applied (what a forced failover's
			// drain waits for). A partition whose offset went out of
			// range is checked against its checkpoint again.
			for err := range pc.Errors() {
				if errors.Is(err.Err, sarama.ErrOffsetOutOfRange) {
					cancel(fmt.Errorf("partition %d: %w", p, err.Err))
					continue
				}
				a.fetchFailed(p, err.Err)
			}
		})
	}
	a.log.Info("consuming", "partitions", len(parts), "set_up_in", time.Since(start).Round(time.Millisecond).String())
	wg.Go(func() { a.watchStall(ctx, cancel, client, len(parts)) })
	<-ctx.Done()
	if err := context.Cause(ctx); !errors.Is(err, errRestart) && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// errHalted is a partition that stays halted in a new session: it halted
// before (an operator's retry sets it running first), or its log does not
// match its checkpoint.
var errHalted = errors.New("partition halted")

// setupPartition loads partition p's checkpoint and returns the offset to
// resume from, or errHalted.
func (a *Applier) setupPartition(ctx context.Context, client sarama.Client, p int32) (int64, error) {
	cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, p)
	if err != nil {
		return 0, err
	}
	if cp, err = a.seedStart(ctx, client, p, cp); err != nil {
		return 0, err
	}
	a.advance(p, cp.Seq)
	a.mu.Lock()
	ps := a.parts[p]
	halted := ps != nil && ps.State == StateHalted
	if !halted {
		a.parts[p] = &PartitionStatus{Partition: p, State: StateRunning, Checkpoint: cp}
	}
	a.mu.Unlock()
	if halted {
		return 0, errHalted
	}
	skipped, err := a.skippedAt(ctx, p, cp.Offset)
	if err != nil {
		return 0, err
	}
	next, err := resumeOffset(client, a.topic, p, cp, skipped)
	if errors.Is(err, errLogMismatch) {
		a.halt(p, cp.Offset, err)
		return 0, errHalted
	}
	return next, err
}

// consume applies partition p in order until ctx ends or the partition
// halts.
func (a *Applier) consume(ctx context.Context, p int32, pc sarama.PartitionConsumer) {
	defer func() {
		if r := recover(); r != nil {
			a.halt(p, -1, fmt.Errorf("apply: partition %d panicked: %v", p, r))
		}
	}()
	w, err := newWorker(ctx, a, p)
	if err != nil {
		if ctx.Err() == nil { // not the session ending (a pause, a retry)
			a.halt(p, -1, err)
		}
		return
	}
	defer w.close()
	var arr pace.Arrivals
	for {
		var msg *sarama.ConsumerMessage
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return
			}
			msg = m
		default:
			a.setIdle(p) // everything received is applied
			select {
			case <-ctx.Done():
				return
			case m, ok := <-pc.Messages():
				if !ok {
					return
				}
				msg = m
			}
		}
		// Take whatever else is already here and, while the partition
		// receives messages fast enough for foldAtLeast to arrive
		// within BatchWait, what arrives within it: fewer, larger target
		// transactions under load. A quiet partition applies at once.
		now, wait := time.Now(), time.Duration(0)
		if arr.Busy(now, a.cfg.BatchWait, foldAtLeast) {
			wait = a.cfg.BatchWait
		}
		batch := pace.Collect(ctx, pc.Messages(), msg, maxRun, wait)
		arr.Note(now, len(batch))
		a.received(p, pc.HighWaterMarkOffset())
		if !a.waitHeld(ctx, p) {
			return
		}
		n, err := w.handleBatch(ctx, batch)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrStaleSession):
			// Another applier moved this partition's checkpoint: start
			// again from what the database says.
			a.log.Warn("partition's checkpoint moved under this applier: starting again from the checkpoints", "partition", p, "err", err)
			a.mu.Lock()
			restart := a.restart
			a.mu.Unlock()
			if restart != nil {
				restart()
			}
			return
		default:
			a.halt(p, batch[n].Offset, err)
			return // halted: apply nothing after it
		}
	}
}

// foldAtLeast is how many more messages a partition's wait must expect
// (at its recent rate) to be worth it. Below that (160 a second with the
// default 50 ms) the commits a wait saves are few, and the lag it adds
// is what a traffic switch's write-forbidden window waits for.
const foldAtLeast = 8

// stallTimeout is how long a link may go without any message before its
// session is presumed stuck and started again. Capture sends every
// partition a heartbeat at least every 2 s (capture.Config.IdleHeartbeat),
// and within 250 ms of the source's position moving.
const stallTimeout = 10 * time.Second

// watchStall ends the session when a partition that is not halted got no
// message for stallTimeout (an error: Run dials anew), or when the
// topic's partition count changed (a restart).
func (a *Applier) watchStall(ctx context.Context, cancel context.CancelCauseFunc, client sarama.Client, parts int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p, idle, ok := a.stalledPart(); ok {
			cancel(fmt.Errorf("no message on partition %d of %s (not even a heartbeat) for %s: connecting again", p, a.topic, idle.Round(time.Second)))
			return
		}
		// Partitions reads the client's metadata, refreshed in the
		// background: no request per tick.
		if now, err := client.Partitions(a.topic); err == nil && len(now) != parts {
			a.log.Warn("the topic's partition count changed: starting again", "topic", a.topic, "was", parts, "now", len(now))
			cancel(errRestart)
			return
		}
	}
}

// received records, under one lock, that partition p got messages: it
// fetches, is busy applying them, and its log's high-water mark is hw.
func (a *Applier) received(p int32, hw int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastPart != nil {
		a.lastPart[p] = time.Now()
	}
	if ps := a.parts[p]; ps != nil {
		if ps.FetchError != "" {
			a.log.Info("partition fetches again", "partition", p)
		}
		ps.FetchError, ps.idle, ps.HighWater = "", false, hw
	}
}

// setIdle records that partition p has applied everything it received.
func (a *Applier) setIdle(p int32) {
	a.mu.Lock()
	if ps := a.parts[p]; ps != nil {
		ps.idle = true
	}
	a.mu.Unlock()
}

// fetchFailed records that partition p's fetch failed (logged once until
// it fetches again).
func (a *Applier) fetchFailed(p int32, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps := a.parts[p]; ps != nil {
		if ps.FetchError == "" {
			a.log.Warn("partition cannot fetch from the source's Kafka; retrying", "partition", p, "err", err)
		}
		ps.FetchError = err.Error()
	}
}

func (a *Applier) touchPart(p int32) {
	a.mu.Lock()
	if a.lastPart != nil {
		a.lastPart[p] = time.Now()
	}
	a.mu.Unlock()
}

// stalledPart finds a partition, not halted, that got nothing for
// stallTimeout while others may have: capture heartbeats every
// partition, so one that stays silent is stuck.
func (a *Applier) stalledPart() (int32, time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, t := range a.lastPart {
		if ps := a.parts[p]; ps != nil && ps.State == StateHalted {
			continue
		}
		if idle := time.Since(t); idle > stallTimeout {
			return p, idle, true
		}
	}
	return 0, 0, false
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
	a.setPartState(p, StateHeld)
	defer a.setPartState(p, StateRunning)
	for a.cfg.Gate.Held() {
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
