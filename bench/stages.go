package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ApplyStages is what the platform's applier did during a drain, from the
// target regiond's metrics (regiond_apply_*, the link from the source):
// how its partitions waited for each other, and how it committed.
type ApplyStages struct {
	// Partitions apply in parallel, one worker each.
	Partitions int `json:"partitions"`
	// FoldedTxns were applied folded with the rest of their run.
	FoldedTxns float64 `json:"folded_txns"`
	// DependencyWaits are transactions that waited for another
	// partition; DependencyWaitSeconds the time they waited, and
	// WaitShare that time over the partitions' (Partitions x the drain).
	DependencyWaits       float64 `json:"dependency_waits"`
	DependencyWaitSeconds float64 `json:"dependency_wait_s"`
	WaitShare             float64 `json:"wait_share"`
	// RunsCut are runs committed early because another partition waited
	// for their last transaction.
	RunsCut float64 `json:"runs_cut"`
}

// applyMetrics are the counters ApplyStages takes, by metric name.
var applyMetrics = []string{
	"regiond_apply_folded_transactions_total",
	"regiond_apply_dependency_waits_total",
	"regiond_apply_dependency_wait_seconds_sum",
	"regiond_apply_runs_cut_total",
}

// applyCounters reads the target regiond's applyMetrics for the link from
// the source.
func (p *platform) applyCounters(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", p.dst.APIPort), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics of regiond %s: %w", p.dst.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics of regiond %s: %s", p.dst.Name, resp.Status)
	}
	return parseCounters(bufio.NewScanner(resp.Body), fmt.Sprintf(`{source=%q,target=%q}`, p.src.Name, p.dst.Name))
}

// parseCounters reads, from Prometheus's text format, the applyMetrics
// with exactly the labels given.
func parseCounters(sc *bufio.Scanner, labels string) (map[string]float64, error) {
	out := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		for _, name := range applyMetrics {
			v, ok := strings.CutPrefix(line, name+labels+" ")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("metric %s: %q: %w", name, v, err)
			}
			out[name] = f
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, name := range applyMetrics {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("the target's metrics have no %s%s", name, labels)
		}
	}
	return out, nil
}

// stagesOf is what the applier did between two reads of its counters,
// over a drain of seconds by parts partitions.
func stagesOf(before, after map[string]float64, parts int, seconds float64) *ApplyStages {
	d := func(name string) float64 { return after[name] - before[name] }
	s := &ApplyStages{Partitions: parts, FoldedTxns: d(applyMetrics[0]), DependencyWaits: d(applyMetrics[1]),
		DependencyWaitSeconds: d(applyMetrics[2]), RunsCut: d(applyMetrics[3])}
	if parts > 0 && seconds > 0 {
		s.WaitShare = s.DependencyWaitSeconds / (float64(parts) * seconds)
	}
	return s
}
