package capture

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Position is how far capture has published: every source transaction up
// to the GTID set Pos is acknowledged by Kafka, and Seq transactions have
// been published in all.
type Position struct {
	Pos  string    `json:"pos"`
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Partitions is the topic's partition count when the position was
	// saved: what an RPO count needs when the region (and its broker) is
	// gone.
	Partitions int32 `json:"partitions,omitempty"`
}

// Checkpoints stores capture positions durably. Implementations must make
// Save durable before returning.
type Checkpoints interface {
	// Load returns the saved position, or a zero Position when none is saved.
	Load(ctx context.Context) (Position, error)
	Save(ctx context.Context, p Position) error
}

// EtcdCheckpoints keeps a region's capture position in etcd.
type EtcdCheckpoints struct {
	Client *clientv3.Client
	// Key is where the position is stored, e.g. "/region/capture/a".
	Key string
}

var _ Checkpoints = (*EtcdCheckpoints)(nil)

// CheckpointKey is the etcd key of a region's capture position.
func CheckpointKey(prefix, region string) string { return prefix + "capture/" + region }

// Load reads the position.
func (e *EtcdCheckpoints) Load(ctx context.Context) (Position, error) {
	resp, err := e.Client.Get(ctx, e.Key)
	if err != nil {
		return Position{}, fmt.Errorf("load capture checkpoint %s: %w", e.Key, err)
	}
	if len(resp.Kvs) == 0 {
		return Position{}, nil
	}
	var p Position
	if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
		return Position{}, fmt.Errorf("capture checkpoint %s is damaged: %w", e.Key, err)
	}
	return p, nil
}

// Save writes the position (etcd commits it to a quorum before answering).
func (e *EtcdCheckpoints) Save(ctx context.Context, p Position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := e.Client.Put(ctx, e.Key, string(b)); err != nil {
		return fmt.Errorf("save capture checkpoint: %w", err)
	}
	return nil
}
