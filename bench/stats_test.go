package bench

import (
	"bufio"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {10, 1}, {1, 1}} {
		if got := Percentile(xs, c.p); got != c.want {
			t.Errorf("p%g = %g, want %g", c.p, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its input")
	}
	if !math.IsNaN(Percentile(nil, 50)) || !math.IsNaN(Percentile(xs, 0)) || !math.IsNaN(Percentile(xs, 101)) {
		t.Error("no samples or a bad p must give NaN")
	}
	if got := Percentile([]float64{0.25}, 99); got != 0.25 {
		t.Errorf("one sample: %g", got)
	}
}

// TestBucketBounds: over any window of T, a token bucket grants at most
// burst + rate*T tokens, and, with steady demand, at least rate*T - 1.
func TestBucketBounds(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, rate := range []float64{1, 50, 1000, 12345} {
		b := newBucket(rate, start)
		now := start
		granted := 0
		// Eight callers take tokens and "sleep" until due, for 10 s.
		due := make([]time.Time, 8)
		for i := range due {
			due[i] = start
		}
		end := start.Add(10 * time.Second)
		for steps := 0; steps < 10_000_000; steps++ {
			i := 0
			for j := range due { // the caller whose wait ends first
				if due[j].Before(due[i]) {
					i = j
				}
			}
			now = due[i]
			if !now.Before(end) {
				break
			}
			w := b.reserve(now)
			if now.Add(w).Before(end) {
				granted++
			}
			due[i] = now.Add(w)
			if w == 0 {
				due[i] = now.Add(time.Microsecond) // the work itself takes time
			}
		}
		max := b.burst + rate*10
		min := rate*10 - 1
		if float64(granted) > max || float64(granted) < min {
			t.Errorf("rate %g: granted %d in 10 s, want %g..%g", rate, granted, min, max)
		}
	}
	if newBucket(0, start) != nil {
		t.Error("rate 0 must mean no bucket (no limit)")
	}
}

func TestBusyRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Behind from 0 to 1000 ms (500 applied), then caught up.
	s := []progress{{at(0), 1000, 0}, {at(500), 1500, 250}, {at(1000), 1600, 500}, {at(1500), 1700, 1690}, {at(2000), 1800, 1800}}
	got, ok := busyRate(s, 100)
	if !ok || math.Abs(got-(500+1190)/1.5) > 1e-9 {
		t.Errorf("busy rate = %g %v", got, ok)
	}
	if _, ok := busyRate([]progress{{at(0), 10, 10}, {at(1000), 20, 20}}, 100); ok {
		t.Error("never behind must give no rate")
	}
}

func TestReportJSON(t *testing.T) {
	rep := &Report{Workload: Workload{Tables: 4, Rows: 20000, Threads: 8, Duration: 20 * time.Second}}
	rep.Runs = []RunResult{{Name: RunPlatform, AppliedTxnPerS: 900, ChecksumsEqual: true}, {Name: RunSingle, AppliedTxnPerS: 600, ChecksumsEqual: true},
		{Name: RunParallel, AppliedTxnPerS: 1200, ChecksumsEqual: true}}
	rep.Ratios = ratios(rep.Runs)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"duration_s":20`, `"applied_vs_single":1.5`, `"applied_vs_parallel":0.75`, `"lag_p99_s":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	rep.Runs[1].ChecksumsEqual = false
	rep.Runs[1].Checksums = []TableChecksum{{Table: "lending.sbtest1", Rows: 10, DifferingRows: 2}}
	if err := rep.Check(); err == nil || !strings.Contains(err.Error(), "sbtest1 2 of 10 rows differ") {
		t.Errorf("Check = %v", err)
	}
}

// TestApplyStages: the applier's counters are read for the link named
// (not another link's, not a prefix's), and a missing one is an error.
func TestApplyStages(t *testing.T) {
	text := `# HELP regiond_apply_runs_cut_total Runs...
regiond_apply_folded_transactions_total{source="a",target="b"} 900
regiond_apply_folded_transactions_total{source="c",target="b"} 5
regiond_apply_dependency_waits_total{source="a",target="b"} 12
regiond_apply_dependency_wait_seconds_sum{source="a",target="b"} 0.5
regiond_apply_dependency_wait_seconds_count{source="a",target="b"} 12
regiond_apply_runs_cut_total{source="a",target="b"} 30
`
	labels := `{source="a",target="b"}`
	before, err := parseCounters(bufio.NewScanner(strings.NewReader(strings.ReplaceAll(strings.ReplaceAll(text, "} 900", "} 100"), "} 0.5", "} 0.1"))), labels)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseCounters(bufio.NewScanner(strings.NewReader(text)), labels)
	if err != nil {
		t.Fatal(err)
	}
	s := stagesOf(before, after, 2, 2)
	if s.FoldedTxns != 800 || s.DependencyWaitSeconds < 0.39 || s.DependencyWaitSeconds > 0.41 || s.WaitShare < 0.099 || s.WaitShare > 0.101 || s.RunsCut != 0 || s.Partitions != 2 {
		t.Errorf("stages = %+v, want 800 folded, 0.4 s of waits (a share of 0.1), no run cut", s)
	}
	noCut := strings.ReplaceAll(text, "regiond_apply_runs_cut_total", "regiond_apply_other")
	if _, err := parseCounters(bufio.NewScanner(strings.NewReader(noCut)), labels); err == nil || !strings.Contains(err.Error(), "runs_cut_total") {
		t.Errorf("a missing counter: err = %v, want one naming it", err)
	}
}
