package apply

import (
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/event"
)

// Checkpoint is how far a partition of a link is applied: the one
// position the applier keeps, written in _region.apply_checkpoints in the
// same target transaction as the rows it covers, and shown in status.
type Checkpoint struct {
	// Offset is the Kafka offset of the last message applied (-1: none).
	Offset int64 `json:"offset"`
	// Seq is capture's sequence number of that message, and Pos the
	// source GTID set capture had published through with it.
	Seq uint64 `json:"seq"`
	Pos string `json:"pos"`
	// GTID is the last source transaction applied.
	GTID string `json:"gtid"`
	// SourceTime is when capture sent that message.
	SourceTime time.Time `json:"source_time"`
}

// Stored reports whether the checkpoint was read from the target (some
// message of the partition was applied).
func (c Checkpoint) Stored() bool { return c.Offset >= 0 }

// step is what the applier does with one message.
type step int

const (
	// stepSkip: applied before (a re-send after a capture restart, or an
	// older capture's heartbeat); nothing changes.
	stepSkip step = iota
	// stepNote: a heartbeat that moves nothing but time, shortly after the
	// checkpoint was written: keep next in memory only.
	stepNote
	// stepSave: write next and apply nothing (a heartbeat, or a
	// transaction a failback discarded).
	stepSave
	// stepWait: a fragment of a transaction whose last fragment has not
	// arrived; nothing is written.
	stepWait
	// stepApply: apply the rows of txn and next in one target transaction.
	stepApply
	// stepDDL: apply the schema change of txn[0] (ordered by the DDL
	// barrier across partitions) and next.
	stepDDL
)

var stepNames = [...]string{"skip", "note", "save", "wait", "apply", "ddl"}

func (s step) String() string { return stepNames[s] }

// decision is the outcome of decide.
type decision struct {
	step step
	// next is the checkpoint once the step is done (stepSkip, stepWait:
	// the checkpoint as it was).
	next Checkpoint
	// txn is the transaction (joined from its fragments) for stepApply
	// and stepDDL.
	txn *event.Message
	// duplicate: skipped as applied before; discarded: a transaction the
	// gate discarded (its position is recorded, its rows are not).
	duplicate, discarded bool
}

// input is what decide knows besides the checkpoint.
type input struct {
	// source is the link's source region.
	source string
	// offset is the message's Kafka offset.
	offset int64
	// discarded reports whether a source transaction was discarded by a
	// failback (nil: none is).
	discarded func(gtid string) bool
	// quiet: the checkpoint row was written a moment ago, so a heartbeat
	// that moves nothing but time need not be written again.
	quiet bool
	// recent: the checkpoint row was written within heartbeatMoveSave, so
	// a heartbeat that moves the watermark is noted in memory only (the
	// live watermark session reads wait for moves with every heartbeat;
	// the row at most every heartbeatMoveSave).
	recent bool
}

// decide is the applier's exactly-once decision for message m of a
// partition whose checkpoint is cp and that has received frags of a
// fragmented transaction so far: what to do, the checkpoint after it,
// and the fragments to keep. An error halts the partition: m can never
// be applied in order.
//
// The rules: a message whose Seq is not above the checkpoint's was
// applied before (heartbeats repeat a Seq: one arriving a while after
// the last write is written, others are noted); a discarded transaction only
// moves the checkpoint; fragments collect until the last one, which
// applies the whole transaction (a first fragment starts it over: a
// re-send); a fragment out of order, or a transaction that cuts another
// short, halts: something is missing from the log.
func decide(cp Checkpoint, frags []*event.Message, m *event.Message, in input) (decision, []*event.Message, error) {
	if m.Source != in.source {
		return decision{}, frags, fmt.Errorf("offset %d: message from region %q in the topic of %q", in.offset, m.Source, in.source)
	}
	next := Checkpoint{Offset: in.offset, Seq: m.Seq, Pos: m.Pos, SourceTime: sentAt(m), GTID: cp.GTID}
	switch {
	case m.Kind == event.KindHeartbeat:
		switch {
		case m.Seq < cp.Seq:
			return decision{step: stepSkip, next: cp}, frags, nil
		case m.Seq == cp.Seq && in.quiet:
			// Nothing published since: a new position is the source's
			// unpublished transactions (among them the checkpoint commits
			// of its own links, which a write here would move again: two
			// idle regions kept each other writing a dozen commits a
			// second). Noted in memory, written with the next save.
			return decision{step: stepNote, next: next}, frags, nil
		case in.recent:
			// The watermark moves (the source publishes to other
			// partitions): noted now, written at most every
			// heartbeatMoveSave; a heartbeat carries no rows to lose.
			return decision{step: stepNote, next: next}, frags, nil
		}
		return decision{step: stepSave, next: next}, frags, nil
	case m.Seq <= cp.Seq:
		return decision{step: stepSkip, next: cp, duplicate: true}, frags, nil
	}
	f := m.Txn.Frag
	if len(frags) > 0 && frags[0].Seq != m.Seq {
		// Capture publishes a transaction's fragments one after the
		// other, and a re-send starts again from the first: the rest of
		// the cut one is not in the log.
		return decision{}, frags, fmt.Errorf("offset %d: transaction %s (seq %d) arrived after %d of the %d fragments of transaction %s (seq %d): the rest of that transaction is missing from the Kafka log",
			in.offset, m.Txn.GTID, m.Seq, len(frags), frags[0].Txn.Frag.Count, frags[0].Txn.GTID, frags[0].Seq)
	}
	next.GTID = m.Txn.GTID
	if in.discarded != nil && in.discarded(m.Txn.GTID) {
		if f != nil && f.Index < f.Count-1 {
			return decision{step: stepWait, next: cp}, frags, nil // the position is recorded with the last fragment
		}
		return decision{step: stepSave, next: next, discarded: true}, frags, nil
	}
	if m.Txn.DDL != nil {
		return decision{step: stepDDL, next: next, txn: m}, frags, nil
	}
	if f == nil {
		return decision{step: stepApply, next: next, txn: m}, frags[:0], nil
	}
	if f.Index == 0 {
		frags = frags[:0] // a new transaction, or a re-send from its start
	}
	if f.Index != len(frags) {
		return decision{}, frags, fmt.Errorf("offset %d: fragment %d of transaction %s arrived after %d fragments", in.offset, f.Index, m.Txn.GTID, len(frags))
	}
	frags = append(frags, m)
	if f.Index < f.Count-1 {
		return decision{step: stepWait, next: cp}, frags, nil // the transaction commits with its last fragment
	}
	whole, err := event.Join(frags)
	if err != nil {
		return decision{}, frags, fmt.Errorf("offset %d: %w", in.offset, err)
	}
	return decision{step: stepApply, next: next, txn: whole}, nil, nil
}
