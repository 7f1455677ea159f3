package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/seed"
)

// loadSeed reads the copies seeded into the target (cdc/seed). A copy
// still in progress stops the link: its table is partial.
func (a *Applier) loadSeed(ctx context.Context) error {
	recs, err := seed.Records(ctx, a.cfg.DB)
	if err != nil {
		return err
	}
	plan, err := seed.NewPlan(recs)
	if err != nil {
		return fmt.Errorf("apply: link from %s: %w", a.cfg.Source, err)
	}
	a.seed = plan
	return nil
}

// seedStart gives partition p its first checkpoint from the seeded copies
// when it has none yet: the link starts where the earliest copy's
// positions are, and unseeded drops what each copy already holds. The
// checkpoint is written, so every later session resumes from the table.
func (a *Applier) seedStart(ctx context.Context, client sarama.Client, p int32, cp Checkpoint) (Checkpoint, error) {
	if a.seed == nil || cp.Stored() {
		return cp, nil
	}
	st, err := a.seed.Start(a.cfg.Source, p, func(pos seed.Positions) (seed.Start, error) {
		// A client of its own that waits little for a fetch: readOne
		// closes its consumer after one message, which waits for the
		// next fetch's long poll (half a second by default, and the
		// partitions' searches queued behind each other's on a shared
		// connection: 35 s for eight partitions of 200 messages).
		cfg := *client.Config()
		cfg.Consumer.MaxWaitTime = 10 * time.Millisecond
		var addrs []string
		for _, b := range client.Brokers() {
			addrs = append(addrs, b.Addr())
		}
		search, err := sarama.NewClient(addrs, &cfg)
		if err != nil {
			return seed.Start{}, err
		}
		defer search.Close()
		return donorStart(search, a.topic, p, pos)
	})
	if err != nil || st.Oldest {
		return cp, err
	}
	next := Checkpoint{Offset: st.From.Offset, Seq: st.From.Seq, Pos: st.From.Pos, GTID: st.From.GTID, SourceTime: st.From.SourceTime}
	var sourceTime any
	if !next.SourceTime.IsZero() {
		sourceTime = next.SourceTime.UTC()
	}
	_, err = a.cfg.DB.ExecContext(ctx, insertCheckpoint, a.cfg.Source, p, next.Offset, next.Seq, next.Pos, next.GTID, sourceTime, 0)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		return loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, p) // another session wrote it first
	}
	if err != nil {
		return cp, fmt.Errorf("apply: write the seeded start of %s/%d: %w", a.cfg.Source, p, err)
	}
	a.log.Info("partition starts from the seeded copies", "partition", p, "offset", next.Offset, "seq", next.Seq)
	return next, nil
}

// donorStart finds, in the donor's own topic, the last message of
// partition p whose position the copy's GTID set contains: every message
// up to it is in the copy. Capture's positions grow along a partition, so
// a binary search finds it; messages after it that the set still contains
// (capture was behind the snapshot) are dropped by unseeded.
func donorStart(client sarama.Client, topic string, p int32, pos seed.Positions) (seed.Start, error) {
	oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return seed.Start{}, err
	}
	newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return seed.Start{}, err
	}
	at := func(o int64) (*event.Message, bool, error) {
		raw, err := readOne(client, topic, p, o)
		if err != nil {
			return nil, false, fmt.Errorf("read %s/%d at %d: %w", topic, p, o, err)
		}
		m, err := event.Decode(raw.Value)
		if err != nil {
			return nil, false, fmt.Errorf("%s/%d at %d: %w", topic, p, o, err)
		}
		if m.Pos == "" {
			return m, true, nil // nothing captured yet when it was sent
		}
		in, err := binlog.Covers(pos.Flavor, pos.GTID, m.Pos)
		return m, in, err
	}
	last, err := lastCovered(oldest, newest, func(o int64) (bool, error) {
		_, in, err := at(o)
		return in, err
	})
	if err != nil || last < 0 {
		return seed.Start{Oldest: true}, err
	}
	m, _, err := at(last)
	if err != nil {
		return seed.Start{}, err
	}
	cp := seed.Checkpoint{Offset: last, Seq: m.Seq, Pos: m.Pos, SourceTime: sentAt(m)}
	if m.Txn != nil {
		cp.GTID = m.Txn.GTID
	}
	return seed.Start{From: cp}, nil
}

// errRetention means the donor's topic no longer holds the messages just
// after a copy's position: a link could not bring the copy forward.
var errRetention = errors.New("the donor's topic no longer holds the messages after the copy")

// lastCovered returns the last offset in [oldest, newest) whose message
// the copy holds (covered is true up to some offset, false after: capture's
// positions grow along a partition), or -1 when none does. When none does
// and messages before oldest were deleted, whether the ones right after
// the copy were among them cannot be known: errRetention.
func lastCovered(oldest, newest int64, covered func(int64) (bool, error)) (int64, error) {
	lo, hi := oldest, newest // the answer is in [lo-1, hi)
	for lo < hi {
		mid := lo + (hi-lo)/2
		in, err := covered(mid)
		if err != nil {
			return 0, err
		}
		if in {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	switch {
	case lo > oldest:
		return lo - 1, nil
	case oldest > 0:
		return 0, fmt.Errorf("%w: no message left (from offset %d) is in the copy, and the %d before it were deleted by retention: copy the region again (regionctl region rebuild), sooner than the topic's retention", errRetention, oldest, oldest)
	}
	return -1, nil
}

// unseeded returns m without the rows whose table's seeded copy already
// holds them (m itself when there are none, nil when every row is held).
func (w *worker) unseeded(offset int64, m *event.Message) (*event.Message, error) {
	if w.a.seed == nil || m.Txn == nil {
		return m, nil
	}
	holds, err := w.a.seed.Message(w.a.cfg.Source, w.part, offset, m.Pos)
	if err != nil {
		return nil, err
	}
	var keep []event.Row
	held := 0
	for i, r := range m.Txn.Rows {
		t := m.Txn.Tables[r.T]
		if holds(t.Schema + "." + t.Name) {
			if held == 0 {
				keep = append(keep, m.Txn.Rows[:i]...)
			}
			held++
		} else if held > 0 {
			keep = append(keep, r)
		}
	}
	if held == 0 {
		return m, nil
	}
	w.a.m.seeded.Add(float64(held))
	if len(keep) == 0 {
		return nil, nil
	}
	c, t := *m, *m.Txn
	t.Rows, c.Txn = keep, &t
	return &c, nil
}
