package apply

import (
	"context"
	"database/sql"
	"errors"

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
	w.a.need(w.part, decoded)
	defer w.a.need(w.part, nil)
	i := 0
	for i < len(msgs) {
		if err := w.waitDeps(ctx, decoded[i]); err != nil {
			return i, err
		}
		var cut uint64
		if w.pending(decoded[i]) {
			cut = w.a.cut(w.part, decoded[i].Seq)
		}
		j, cutHere := runEnd(decoded, i, func(m *event.Message) bool { return w.ready(ctx, m) }, cut)
		if cutHere {
			w.a.m.runsCut.Inc()
		}
		if j-i >= 2 {
			if err := w.applyRun(ctx, decoded[i:j], msgs[i:j]); err == nil {
				i = j
				continue
			} else if ctx.Err() != nil {
				return i, err
			}
		}
		if err := w.handle(ctx, msgs[i], decoded[i]); err != nil {
			return i, err
		}
		i++
	}
	return i, nil
}

// runEnd returns where the run that starts at msgs[i] ends (exclusive). A
// run goes on while its messages need nothing more of other partitions
// (ready: it commits as one, so none of them may wait), up to maxRun, and
// ends after the transaction of seq cut, which another partition waits
// for (order.go; 0: none); atCut: it ended there, with more to apply.
func runEnd(msgs []*event.Message, i int, ready func(*event.Message) bool, cut uint64) (end int, atCut bool) {
	j := i
	for j < len(msgs) && j-i < maxRun && simple(msgs[j]) && (j == i || ready(msgs[j])) {
		j++
		if m := msgs[j-1]; cut > 0 && m.Kind == event.KindTxn && m.Seq >= cut {
			return j, j < len(msgs)
		}
	}
	return j, false
}

// simple reports whether m can share a target transaction with others.
func simple(m *event.Message) bool {
	return m != nil && (m.Kind == event.KindHeartbeat || (m.Txn != nil && m.Txn.DDL == nil && m.Txn.Frag == nil))
}

// applyRun applies a run of simple messages in one target transaction:
// decide folded over the run, its transactions folded into one where
// they can be (fold.go), one commit for all of it.
func (w *worker) applyRun(ctx context.Context, run []*event.Message, raw []*sarama.ConsumerMessage) error {
	next := w.cp
	var apply []*event.Message
	rows, dups, discarded := 0, 0, 0
	for k, m := range run {
		d, _, err := decide(next, w.frag, m, w.input(raw[k].Offset, false, false))
		if err != nil {
			return err
		}
		switch d.step {
		case stepSkip:
			if d.duplicate {
				dups++
			}
			continue
		case stepApply:
			t, err := w.unseeded(raw[k].Offset, d.txn)
			if err != nil {
				return err
			}
			if t != nil {
				apply = append(apply, t)
				rows += len(t.Txn.Rows)
			}
		case stepSave:
			if d.discarded {
				discarded++
			}
		}
		next = d.next
	}
	w.a.m.duplicates.Add(float64(dups))
	if next.Offset == w.cp.Offset {
		return nil // nothing new
	}
	folded := false
	body := func(tx *sql.Tx) error {
		if len(apply) > 1 {
			err := w.applyFolded(ctx, tx, apply)
			if folded = err == nil; !errors.Is(err, errUnfoldable) {
				return err
			}
		}
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
	w.a.m.discarded.Add(float64(discarded))
	w.a.m.txns.Add(float64(len(apply)))
	if folded {
		w.a.m.folded.Add(float64(len(apply)))
	}
	w.a.m.rows.Add(float64(rows))
	return nil
}
