package labtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
)

// Etcd starts a real embedded etcd in a temporary folder, on free ports,
// and returns a client of it; both stop when the test ends.
func Etcd(t testing.TB) *clientv3.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := lab.StartEtcd(ctx, lab.EtcdConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); e.Close() })
	return c
}

// TwoCells is a deployment of regions a and b with one cell each, 16
// buckets: a1 owns buckets 0-7, b1 owns 8-15.
func TwoCells() *config.Config {
	return &config.Config{Buckets: 16,
		Regions: []config.Region{{Name: "a"}, {Name: "b"}},
		Cells:   []config.Cell{{Name: "a1", Region: "a", Standby: "b"}, {Name: "b1", Region: "b", Standby: "a"}}}
}
