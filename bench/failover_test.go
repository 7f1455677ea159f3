package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/regionplatform/region/bench"
	"github.com/regionplatform/region/lab/labtest"
)

// TestFailoverBenchmark runs one failover benchmark run at a low rate:
// leader loss, region a lost and failed back, planned switchover of b,
// nothing lost or doubled, every figure measured. It takes about 40 s
// on 2 cores.
func TestFailoverBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end benchmark takes about 40 s: run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := bench.DefaultFailoverOptions()
	o.Runs, o.Rate, o.Users, o.Dir, o.Bin, o.Progress = 1, 40, 10, t.TempDir(), labtest.Bin(), testWriter{t}
	rep, err := bench.RunFailover(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Figures {
		t.Logf("%s: %.0f", f.Name, f.Median)
	}
	if err := rep.Check(); err != nil {
		t.Fatal(err)
	}
	r := rep.Runs[0]
	if r.LeaderFailoverMS < 0 || r.DetectionMS < 0 || r.RTOMS < 0 || r.RPOLostCount < 0 || r.PlannedBuckets != o.Buckets/2 || !rep.RPOExact() {
		t.Fatalf("run measured too little: %+v", r)
	}
}
