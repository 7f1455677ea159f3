package router_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// BenchmarkEpochPropagation measures how long a new routing table epoch
// takes to reach 50 live routers on a real etcd: from the write's commit
// until every router serves it (memory) and until every router's
// registration says so (etcd, what a traffic switch waits for). It reports
// p50 and p99 over the updates (each op is one update).
//
//	go test -run '^$' -bench EpochPropagation -benchtime 20x ./router/
func BenchmarkEpochPropagation(b *testing.B) {
	const routers = 50
	_, c, _ := testEtcd(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() }) // before etcd stops
	s := router.NewStore(c, "/bench/")
	if _, err := s.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
		b.Fatal(err)
	}
	rs := make([]*router.Router, routers)
	for i := range rs {
		cfg := router.DefaultConfig()
		cfg.Store, cfg.ID, cfg.Region = s, fmt.Sprintf("bench-%02d", i), "a"
		r, err := router.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
		<-r.Ready()
		rs[i] = r
	}
	var served, acked []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("s%d", i)
		t0 := time.Now()
		t, err := s.Update(ctx, router.Change{Kind: "fence"}, func(t *router.Table) error {
			if i%2 == 1 {
				t.Unfence(fmt.Sprintf("s%d", i-1))
				return nil
			}
			return t.Fence([]topo.Range{{First: 0, Last: 3}}, id)
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if err := r.Wait(ctx, t.Epoch); err != nil {
				b.Fatal(err)
			}
		}
		served = append(served, time.Since(t0))
		for {
			infos, err := s.Routers(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, in := range infos {
				if in.Epoch >= t.Epoch {
					n++
				}
			}
			if n >= routers {
				break
			}
			time.Sleep(time.Millisecond)
		}
		acked = append(acked, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(pct(served, 50), "served-p50-ms")
	b.ReportMetric(pct(served, 99), "served-p99-ms")
	b.ReportMetric(pct(acked, 50), "acked-p50-ms")
	b.ReportMetric(pct(acked, 99), "acked-p99-ms")
}

func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}
