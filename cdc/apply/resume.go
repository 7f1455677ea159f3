package apply

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/event"
)

// errLogMismatch means a partition's log does not hold what the target
// applied from it: the broker lost acknowledged messages, the topic was
// recreated, or retention deleted messages before they were applied.
// Transactions may be missing; the partition halts rather than guess.
var errLogMismatch = errors.New("the Kafka log does not match what was applied")

// resumeOffset returns the offset to resume a partition from, after
// checking that the message at the checkpoint is the one that was applied
// (or, skipped, the one an operator skipped) and that nothing unapplied
// was deleted.
func resumeOffset(client sarama.Client, topic string, p int32, cp Checkpoint, skipped bool) (int64, error) {
	oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("apply: oldest offset of %s/%d: %w", topic, p, err)
	}
	newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return 0, fmt.Errorf("apply: newest offset of %s/%d: %w", topic, p, err)
	}
	if !cp.Stored() {
		return oldest, nil
	}
	next := cp.Offset + 1
	switch {
	case next > newest:
		return 0, fmt.Errorf("%w: partition %d ends at offset %d but offset %d (seq %d) was applied: the broker lost acknowledged messages or the topic was recreated; compare the regions with regionctl verify before resetting this link", errLogMismatch, p, newest, cp.Offset, cp.Seq)
	case next < oldest:
		return 0, fmt.Errorf("%w: partition %d starts at offset %d but only offsets up to %d were applied: retention deleted unapplied messages; the target misses transactions after seq %d", errLogMismatch, p, oldest, cp.Offset, cp.Seq)
	case cp.Offset < oldest:
		return next, nil // the applied message itself was deleted by retention: nothing to compare
	case skipped:
		return next, nil // quarantined whole: it need not decode
	}
	m, err := readOne(client, topic, p, cp.Offset)
	if err != nil {
		return 0, fmt.Errorf("apply: read %s/%d at %d to check the checkpoint: %w", topic, p, cp.Offset, err)
	}
	got, derr := event.Decode(m.Value)
	// Seq alone does not identify a message (heartbeats repeat it); the
	// send time, stored with microseconds, does.
	if derr != nil || got.Seq != cp.Seq || !sentAt(got).Truncate(time.Microsecond).Equal(cp.SourceTime.Truncate(time.Microsecond)) {
		what := "an undecodable message"
		if derr == nil {
			what = fmt.Sprintf("seq %d sent %s", got.Seq, sentAt(got).Format(time.RFC3339Nano))
		}
		return 0, fmt.Errorf("%w: partition %d offset %d holds %s, but seq %d sent %s was applied from there: the broker lost acknowledged messages or the topic was recreated; compare the regions with regionctl verify before resetting this link",
			errLogMismatch, p, cp.Offset, what, cp.Seq, cp.SourceTime.Format(time.RFC3339Nano))
	}
	return next, nil
}

// sentAt is when capture sent m (its commit time for old messages).
func sentAt(m *event.Message) time.Time {
	if !m.Sent.IsZero() {
		return m.Sent.UTC()
	}
	return m.Time.UTC()
}

func readOne(client sarama.Client, topic string, p int32, offset int64) (*sarama.ConsumerMessage, error) {
	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, p, offset)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		return m, nil
	case err := <-pc.Errors():
		return nil, err
	case <-time.After(10 * time.Second):
		return nil, errors.New("timed out")
	}
}
