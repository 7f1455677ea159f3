package lab

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.etcd.io/etcd/server/v3/embed"
)

// EtcdConfig says where an embedded etcd keeps its data and listens.
type EtcdConfig struct {
	// Dir is the data folder; a restart on the same Dir keeps the data.
	Dir string
	// ClientPort and PeerPort on 127.0.0.1 (0 picks free ports).
	ClientPort, PeerPort int
	// LogFile receives etcd's own log (default Dir/etcd.log).
	LogFile string
}

// Etcd is a running embedded etcd server.
type Etcd struct {
	e     *embed.Etcd
	close sync.Once
	// ClientURL is the URL clients connect to.
	ClientURL string
}

// StartEtcd starts a single-member etcd on loopback and waits until it is
// ready to serve. This is the one way the lab and tests run etcd.
func StartEtcd(ctx context.Context, c EtcdConfig) (*Etcd, error) {
	var err error
	if c.ClientPort == 0 {
		if c.ClientPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if c.PeerPort == 0 {
		if c.PeerPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd dir: %w", err)
	}
	if c.LogFile == "" {
		c.LogFile = filepath.Join(c.Dir, "etcd.log")
	}
	cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", c.ClientPort)}
	pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", c.PeerPort)}
	cfg := embed.NewConfig()
	cfg.Name = "lab"
	cfg.Dir = filepath.Join(c.Dir, "data")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{c.LogFile}
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "10000"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("etcd not ready: %w", ctx.Err())
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after 60s: see %s", c.LogFile)
	}
	return &Etcd{e: e, ClientURL: cu.String()}, nil
}

// Err reports a fatal server error (the channel is etcd's own).
func (e *Etcd) Err() <-chan error { return e.e.Err() }

// Close stops the server and waits for it. Closing twice is harmless.
func (e *Etcd) Close() { e.close.Do(e.e.Close) }

// BrokerConfig says where an embedded Kafka-protocol broker keeps its data
// and listens.
type BrokerConfig struct {
	// Dir keeps topics, messages and committed offsets across restarts.
	Dir string
	// Port on 127.0.0.1 (0 picks a free port).
	Port int
	// Topics are created at the first start, with Partitions partitions
	// each (default 8). Topics are not created on demand: kfake persists
	// an on-demand topic only at a clean shutdown, so after a kill -9 it
	// would come back empty; a missing topic is an error instead.
	Topics     []string
	Partitions int
}

// Broker is a running Kafka-protocol broker (kfake, from franz-go).
type Broker struct {
	c *kfake.Cluster
	// Addr is host:port for Kafka clients.
	Addr string
}

// StartBroker starts a single-node Kafka-protocol broker on loopback. It
// creates Topics and keeps data under Dir. Every produced batch is written
// to its segment file before it is acknowledged, so an acknowledged message
// survives a kill -9 of the broker (the page cache outlives the process);
// files are flushed to disk as a real Kafka broker's are by default, on
// segment roll and shutdown, not per batch (log.flush.interval.messages):
// a machine that loses power loses the newest batches, which a real
// cluster covers with replicas (acks=all) and a lab does not.
func StartBroker(c BrokerConfig) (*Broker, error) {
	var err error
	if c.Port == 0 {
		if c.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	cl, err := kfake.NewCluster(
		kfake.Ports(c.Port),
		kfake.DataDir(c.Dir),
		kfake.SeedTopics(int32(c.Partitions), c.Topics...),
		kfake.DefaultNumPartitions(c.Partitions),
		kfake.ClusterID("region-lab"),
	)
	if err != nil {
		return nil, fmt.Errorf("start broker on port %d: %w", c.Port, err)
	}
	return &Broker{c: cl, Addr: cl.ListenAddrs()[0]}, nil
}

// Close stops the broker, flushing its data.
func (b *Broker) Close() { b.c.Close() }
