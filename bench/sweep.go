package bench

import (
	"context"
	"fmt"
	"time"
)

// SweepSLO is the lag a sweep holds each rate to: the probes' lag p99
// under it.
const SweepSLO = 250 * time.Millisecond

// SweepResult is the fixed-rate sweep (Options.Sweep): the load at each
// rate in turn, lowest first, until one misses the SLO.
type SweepResult struct {
	SLOSeconds  float64     `json:"slo_s"`
	StepSeconds float64     `json:"step_s"`
	Steps       []SweepStep `json:"steps"`
	// MaxRate is the highest rate asked at which, like every lower one,
	// the source kept the rate and the probes' lag p99 stayed under the
	// SLO; nil when the lowest missed. AllMet: no rate missed, so the
	// system's own highest is above MaxRate.
	MaxRate *float64 `json:"max_rate_under_slo"`
	AllMet  bool     `json:"all_rates_met"`
}

// SweepStep is the load at one rate.
type SweepStep struct {
	Rate float64 `json:"rate"`
	// SourceTxnPerS is the workload's rate in the source (without the
	// probes' 10 a second).
	SourceTxnPerS float64  `json:"source_txn_per_s"`
	LagP50S       *float64 `json:"lag_p50_s"`
	LagP99S       *float64 `json:"lag_p99_s"`
	CatchUpS      float64  `json:"catch_up_s"`
	// SourceKept: the source committed at least 90% of Rate (below that
	// the rate measures the source, not replication). Met: SourceKept
	// and the lag p99 under the SLO.
	SourceKept bool `json:"source_kept_rate"`
	Met        bool `json:"met"`
}

// sweep runs the load at each of Options.Sweep's rates for
// Options.SweepStep, measured as the full-speed load is (probes, catch-up,
// checksums), and stops at the first rate that misses the SLO.
func (r *runner) sweep(ctx context.Context) (*SweepResult, error) {
	out := &SweepResult{SLOSeconds: SweepSLO.Seconds(), StepSeconds: r.o.SweepStep.Seconds(), AllMet: true}
	for i, rate := range r.o.Sweep {
		step := *r
		step.o.Rate, step.o.Duration, step.o.Seed = rate, r.o.SweepStep, r.o.Seed+100+uint64(i)
		res, err := step.measure(ctx)
		if err != nil {
			return nil, fmt.Errorf("sweep at %.0f txn/s: %w", rate, err)
		}
		if !res.ChecksumsEqual {
			return nil, fmt.Errorf("sweep at %.0f txn/s: the target differs from the source after catch-up", rate)
		}
		// The rate caps the workload; the probes come on top of it.
		s := SweepStep{Rate: rate, SourceTxnPerS: float64(res.WorkloadTxns) / res.LoadSeconds, LagP50S: res.LagP50S, LagP99S: res.LagP99S, CatchUpS: res.CatchUpSeconds}
		s.SourceKept = s.SourceTxnPerS >= 0.9*rate
		s.Met = s.SourceKept && res.LagP99S != nil && *res.LagP99S < SweepSLO.Seconds()
		out.Steps = append(out.Steps, s)
		r.progressf("%s: sweep at %.0f txn/s: source %.0f/s, lag p99 %s s: %s", r.name, rate, s.SourceTxnPerS, fmtOpt(s.LagP99S, "%.3f"), map[bool]string{true: "met", false: "missed"}[s.Met])
		if !s.Met {
			out.AllMet = false
			break
		}
		out.MaxRate = opt(rate)
	}
	return out, nil
}
