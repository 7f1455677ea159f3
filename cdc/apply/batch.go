package apply

import (
	"context"
	"database/sql"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/event"
)

// maxRun bounds how many messages share one target transaction.
const maxRun = 256

// handleBatch applies msgs in order and returns how many it applied; on
// error, msgs[n] is the message that failed. Runs of ordinary messages
// (transactions without DDL or fragments, and heartbeats) share one
// target transaction and one checkpoint: when a partition is behind, this
// turns many small commits into one. A run that fails is applied again
// one message at a time, so the failing message is found exactly and
// everything before it is applied.
func (w *worker) handleBatch(ctx context.Context, msgs []*sarama.ConsumerMessage) (int, error) {
	decoded := make([]*event.Message, len(msgs))
	for i, raw := range msgs {
		if m, err := event.Decode(raw.Value); err == nil && m.Source == w.a.cfg.Source {
			decoded[i] = m
		}
	}
	i := 0
	for i < len(msgs) {
		j := i
		for j < len(msgs) && j-i < maxRun && simple(decoded[j]) {
			j++
		}
		if j-i >= 2 {
			if err := w.applyRun(ctx, decoded[i:j], msgs[i:j]); err == nil {
				i = j
				continue
			} else if ctx.Err() != nil {
				return i, err
			}
		}
		if err := w.handle(ctx, msgs[i]); err != nil {
			return i, err
		}
		i++
	}
	return i, nil
}

// simple reports whether m can share a target transaction with others.
func simple(m *event.Message) bool {
	return m != nil && (m.Kind == event.KindHeartbeat || (m.Txn != nil && m.Txn.DDL == nil && m.Txn.Frag == nil))
}

// applyRun applies a run of simple messages in one target transaction.
func (w *worker) applyRun(ctx context.Context, run []*event.Message, raw []*sarama.ConsumerMessage) error {
	next := w.cp
	var apply []*event.Message
	rows := 0
	for k, m := range run {
		if m.Seq < next.Seq || (m.Kind == event.KindTxn && m.Seq == next.Seq) {
			if m.Kind == event.KindTxn {
				w.a.m.duplicates.Inc()
			}
			continue // applied before, or an older capture's heartbeat
		}
		next = checkpoint{Found: true, Offset: raw[k].Offset, Seq: m.Seq, Pos: m.Pos, SourceTime: sentAt(m), GTID: next.GTID}
		if m.Kind == event.KindTxn {
			next.GTID = m.Txn.GTID
			if w.a.discarded(m.Txn.GTID) {
				continue // its position is recorded, its rows are not applied
			}
			apply = append(apply, m)
			rows += len(m.Txn.Rows)
		}
	}
	if next.Offset == w.cp.Offset {
		return nil // nothing new
	}
	body := func(tx *sql.Tx) error {
		for _, m := range apply {
			if err := w.applyRows(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}
	if err := w.commit(ctx, body, next, len(apply)); err != nil {
		return err
	}
	w.a.m.txns.Add(float64(len(apply)))
	w.a.m.rows.Add(float64(rows))
	return nil
}
