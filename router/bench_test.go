package router_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// benchBuckets and benchCells are the production-like shape both lookup
// benchmarks use: 1024 buckets over 4 cells in 2 regions.
const benchBuckets = 1024

func benchDeployment() *config.Config {
	return &config.Config{Buckets: benchBuckets,
		Regions: []config.Region{{Name: "a"}, {Name: "b"}},
		Cells: []config.Cell{{Name: "a1", Region: "a", Standby: "b"}, {Name: "a2", Region: "a", Standby: "b"},
			{Name: "b1", Region: "b", Standby: "a"}, {Name: "b2", Region: "b", Standby: "a"}}}
}

// benchKeys are decimal user ids, as the gateway receives them.
func benchKeys() []string {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprint(10_000_000 + i*7919)
	}
	return keys
}

// benchRouter is a live router following a table in a real embedded etcd.
func benchRouter(b *testing.B) *router.Router {
	ctx, cancel := context.WithCancel(context.Background())
	dir := b.TempDir()
	e, err := lab.StartEtcd(ctx, lab.EtcdConfig{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	s := router.NewStore(c, "/bench/")
	if _, err := s.Init(ctx, router.Initial(benchDeployment(), time.Now())); err != nil {
		b.Fatal(err)
	}
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region = s, "bench", "a"
	rc.Endpoints = map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"}
	r, err := router.New(rc)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(ctx) }()
	b.Cleanup(func() { cancel(); wg.Wait(); c.Close(); e.Close() })
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Second):
		b.Fatal("router never loaded the table")
	}
	return r
}

// BenchmarkRoute is Router.Route on a live router.
func BenchmarkRoute(b *testing.B) {
	r := benchRouter(b)
	keys := benchKeys()
	var sink topo.Bucket
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rt, _ := r.Route(keys[i&(len(keys)-1)])
		sink += rt.Bucket
	}
	b.StopTimer()
	runtime.KeepAlive(sink)
}

// BenchmarkLookup is Router.Lookup: Route without copying the answer.
func BenchmarkLookup(b *testing.B) {
	r := benchRouter(b)
	keys := benchKeys()
	var sink topo.Bucket
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink += r.Lookup(keys[i&(len(keys)-1)]).Bucket
	}
	b.StopTimer()
	runtime.KeepAlive(sink)
}

// buckets is the bucket count the bare benchmark divides by: a variable,
// as it is for any program that reads it from its config (a constant
// power of two would let the compiler turn the modulo into a mask).
var buckets = benchBuckets

// BenchmarkBareHashIndex is the floor Route is measured against: the
// same hash and an index into a plain per-bucket slice of cells.
func BenchmarkBareHashIndex(b *testing.B) {
	owner := make([]uint16, benchBuckets)
	for i, rg := range topo.Spread(benchBuckets, 4) {
		for x := rg.First; x <= rg.Last; x++ {
			owner[x] = uint16(i)
		}
	}
	keys := benchKeys()
	var sink uint16
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink += owner[topo.BucketOfString(keys[i&(len(keys)-1)], buckets)]
	}
	b.StopTimer()
	runtime.KeepAlive(sink)
}
