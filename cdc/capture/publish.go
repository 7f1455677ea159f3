package capture

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
)

// Topic is the Kafka topic a region's capture publishes to.
func Topic(region string) string { return "region.cdc." + region }

// Key is the message key of a transaction: its bucket, so one user's
// transactions stay in order in one partition; a transaction on global
// tables only is keyed by its first row's table and primary key.
func Key(t *event.Txn) string {
	if t.Bucket >= 0 {
		return strconv.Itoa(int(t.Bucket))
	}
	if t.DDL != nil {
		return "ddl"
	}
	if len(t.Rows) == 0 {
		return ""
	}
	r := t.Rows[0]
	tb := t.Tables[r.T]
	img := r.After
	if img == nil {
		img = r.Before
	}
	var b strings.Builder
	b.WriteString(tb.Schema + "." + tb.Name)
	for _, p := range tb.PK {
		b.WriteByte('/')
		b.WriteString(img[p].Text())
	}
	return b.String()
}

// Partition maps a key to one of n partitions (FNV-1a), the same way in
// every process, so that re-sent transactions land where they did before.
func Partition(key string, n int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32() % uint32(n))
}

// messages turns one transaction into the Kafka messages that carry it:
// one, or ordered fragments each under maxBytes.
//
// A schema change is a barrier: it goes to every partition with the same
// Seq, and the applier runs it once when all its partitions reach it, so
// it is ordered with the data of every bucket.
//
// part is the transaction's partition, Partition(Key(it.Txn), partitions).
func messages(topic, source string, seq uint64, it binlog.Item, part, partitions int32, maxBytes int) ([]*sarama.ProducerMessage, error) {
	key := Key(it.Txn)
	whole := &event.Message{Kind: event.KindTxn, Source: source, Seq: seq, Pos: it.Pos, Time: it.Time, Sent: time.Now().UTC(), Txn: it.Txn}
	if it.Txn.DDL != nil {
		b, err := event.Encode(whole)
		if err != nil {
			return nil, fmt.Errorf("encode transaction %s: %w", it.Txn.GTID, err)
		}
		out := make([]*sarama.ProducerMessage, partitions)
		for p := range out {
			out[p] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Partition: int32(p), Value: sarama.ByteEncoder(b)}
		}
		return out, nil
	}
	parts, err := event.EncodeSplit(whole, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("encode transaction %s: %w", it.Txn.GTID, err)
	}
	out := make([]*sarama.ProducerMessage, len(parts))
	for i, b := range parts {
		out[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Partition: part, Value: sarama.ByteEncoder(b)}
	}
	return out, nil
}

func heartbeat(topic, source string, part int32, p Position) (*sarama.ProducerMessage, error) {
	now := time.Now().UTC()
	b, err := event.Encode(&event.Message{Kind: event.KindHeartbeat, Source: source, Seq: p.Seq, Pos: p.Pos, Time: now, Sent: now})
	if err != nil {
		return nil, err
	}
	return &sarama.ProducerMessage{Topic: topic, Partition: part, Value: sarama.ByteEncoder(b)}, nil
}

// ProducerConfig sets a sarama config for capture: idempotent, acks from
// all in-sync replicas, one request in flight (order within a partition
// survives retries), partitions chosen by the caller, LZ4, and each send
// in one request.
func ProducerConfig(sc *sarama.Config) {
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Retry.Max = 10
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	sc.Producer.Compression = sarama.CompressionLZ4
	sc.Producer.MaxMessageBytes = 1 << 20
	// The topic is made by regionctl kafka init, with the partitions,
	// replicas and retention replication.topic asks for: a broker's
	// defaults would do for none of them.
	sc.Metadata.AllowAutoTopicCreation = false
	// A send hands sarama a batch of messages; without a moment's wait
	// its first message would leave alone in one request and the rest in
	// the next (half the broker's CPU per transaction under load).
	sc.Producer.Flush.Frequency = time.Millisecond
}
