package bench_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/regionplatform/region/bench"
	"github.com/regionplatform/region/lab/labtest"
)

// TestFailoverBenchmark runs one failover benchmark run at a low rate:
// leader loss, region a lost and failed back, planned switchover of b,
// nothing lost or doubled. It takes 45-60 s on 2 cores when a's link
// catches up at once after its restart, up to 3 min when it does not
// (docs/BENCHMARKS.md, "Failover"): set REGION_BENCH_FAILOVER=1 to run it.
func TestFailoverBenchmark(t *testing.T) {
	if os.Getenv("REGION_BENCH_FAILOVER") == "" || testing.Short() {
		t.Skip("takes 45 s to 3 min: set REGION_BENCH_FAILOVER=1 to run it")
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
	if r.LeaderFailoverMS < 0 || r.DetectionMS < 0 || r.RTOMS < 0 || r.RPOLostCount < 0 || r.PlannedBuckets != 512 || !rep.RPOExact() {
		t.Fatalf("run measured too little: %+v", r)
	}
}
