package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the benchmark's result; `regionctl bench replication --json`
// prints it.
type Report struct {
	Workload Workload    `json:"workload"`
	Host     Host        `json:"host"`
	Runs     []RunResult `json:"runs"`
	Ratios   Ratios      `json:"ratios"`
}

// MarshalJSON writes the workload with its duration in seconds.
func (w Workload) MarshalJSON() ([]byte, error) {
	type plain Workload
	return json.Marshal(struct {
		plain
		DurationS float64 `json:"duration_s"`
	}{plain(w), w.Duration.Seconds()})
}

// Host describes the machine the runs shared.
type Host struct {
	CPUs int    `json:"cpus"`
	CPU  string `json:"cpu,omitempty"`
	GoOS string `json:"os"`
}

// RunResult is one run's figures. Lag figures are nil when nothing was
// measured; PeakRSSMB only applies to the platform's applier (regiond).
type RunResult struct {
	Name string `json:"name"`
	// Partitions are the platform lab's topic partitions: how many apply
	// in parallel (0 for MariaDB's runs).
	Partitions int `json:"partitions,omitempty"`
	// SourceTxns are the transactions committed in the source during the
	// load: WorkloadTxns plus one per lag probe.
	SourceTxns    uint64  `json:"source_txns"`
	WorkloadTxns  uint64  `json:"workload_txns"`
	SourceRetries uint64  `json:"source_retries"`
	LoadSeconds   float64 `json:"load_s"`
	// SourceTxnPerS is SourceTxns / LoadSeconds.
	SourceTxnPerS float64 `json:"source_txn_per_s"`
	// AppliedTxns is the target's own count of transactions applied from
	// the start of the load to the end of catch-up.
	AppliedTxns uint64 `json:"applied_txns"`
	// CatchUpSeconds is from the end of the load until the target had
	// applied everything.
	CatchUpSeconds float64 `json:"catch_up_s"`
	// AppliedTxnPerS is SourceTxns / (LoadSeconds + CatchUpSeconds).
	AppliedTxnPerS float64 `json:"applied_txn_per_s"`
	// ApplierBusyTxnPerS is the apply rate over the sampling intervals
	// in which the target was at least 100 transactions behind; nil when
	// it never was.
	ApplierBusyTxnPerS *float64 `json:"applier_busy_txn_per_s"`
	// Lag of probe rows, written every 100 ms during the load, from send
	// in the source to arrival in the target (10 ms resolution).
	Probes  int      `json:"probes"`
	LagP50S *float64 `json:"lag_p50_s"`
	LagP99S *float64 `json:"lag_p99_s"`
	LagMaxS *float64 `json:"lag_max_s"`
	// The platform's own lag figures (regiond /v1/status, every 250 ms).
	StatusLagP99S    *float64 `json:"status_lag_p99_s,omitempty"`
	StatusLagMaxS    *float64 `json:"status_lag_max_s,omitempty"`
	StatusLagTxnsMax *uint64  `json:"status_lag_txns_max,omitempty"`
	// PeakRSSMB is the largest VmRSS of the target's regiond seen during
	// load and catch-up; RSSHWMMB its VmHWM (peak since it started).
	PeakRSSMB *float64 `json:"peak_rss_mb"`
	RSSHWMMB  *float64 `json:"rss_hwm_mb,omitempty"`
	// CPUSeconds is the CPU time (user + system) each server process
	// used from the start of the load to the end of catch-up.
	CPUSeconds     map[string]float64 `json:"cpu_s"`
	ChecksumsEqual bool               `json:"checksums_equal"`
	Checksums      []TableChecksum    `json:"checksums"`
	// LoadAvgBefore and LoadAvgAfter are the machine's 1-minute load
	// average around the load: other work on the machine shows here.
	LoadAvgBefore float64 `json:"loadavg_before"`
	LoadAvgAfter  float64 `json:"loadavg_after"`
	SampleErrors  int     `json:"sample_errors,omitempty"`
	// Backlog is the backlog phase (Options.Backlog), if it ran.
	Backlog *BacklogResult `json:"backlog,omitempty"`
	// Sweep is the fixed-rate sweep (Options.Sweep), if it ran.
	Sweep *SweepResult `json:"sweep,omitempty"`
}

// BacklogResult is the apply capacity alone: how fast the target drained
// a backlog the source wrote while it did not apply.
type BacklogResult struct {
	Txns int `json:"txns"`
	// DrainSeconds is from starting the target's applier again (for the
	// platform: starting its regiond, which the pause stopped) until it
	// had applied every transaction; TxnPerS is Txns / DrainSeconds.
	DrainSeconds float64 `json:"drain_s"`
	TxnPerS      float64 `json:"txn_per_s"`
	// CPUSeconds is each server process's CPU time during the drain.
	CPUSeconds map[string]float64 `json:"cpu_s"`
	// CPUPerTxnMS is all of them over Txns; TargetCPUPerTxnMS the target
	// MySQL's alone: what the database a drain applies to spends on each
	// transaction, the figure that follows it to a host of its own.
	CPUPerTxnMS       float64 `json:"cpu_per_txn_ms"`
	TargetCPUPerTxnMS float64 `json:"target_cpu_per_txn_ms"`
	// Apply is what the platform's applier did during the drain (nil for
	// MariaDB's replication).
	Apply *ApplyStages `json:"apply,omitempty"`
}

// Ratios compare the platform's applied throughput with MariaDB's own
// replication, both measured in the same Run; nil when a run is missing.
//
// The applied ratios divide AppliedTxnPerS: while every target keeps up,
// they follow the sources' rates. The busy ratios divide
// ApplierBusyTxnPerS, the apply rate while behind, and so compare the
// appliers' capacity; they are nil when a target was never behind.
type Ratios struct {
	AppliedVsSingle     *float64 `json:"applied_vs_single"`
	AppliedVsParallel   *float64 `json:"applied_vs_parallel"`
	BusyApplyVsSingle   *float64 `json:"busy_apply_vs_single"`
	BusyApplyVsParallel *float64 `json:"busy_apply_vs_parallel"`
	// BacklogVs* divide the backlog phase's drain rates; BacklogCPUVs*
	// and BacklogTargetCPUVs* its CPU per drained transaction (all
	// processes; the target MySQL alone): below 1, the platform spends
	// less.
	BacklogVsSingle            *float64 `json:"backlog_vs_single,omitempty"`
	BacklogVsParallel          *float64 `json:"backlog_vs_parallel,omitempty"`
	BacklogCPUVsParallel       *float64 `json:"backlog_cpu_vs_parallel,omitempty"`
	BacklogTargetCPUVsParallel *float64 `json:"backlog_target_cpu_vs_parallel,omitempty"`
	// SweepVs* divide the sweeps' highest rates under the SLO (a run
	// that met every rate has a higher one: see SweepResult.AllMet).
	SweepVsSingle   *float64 `json:"sweep_max_rate_vs_single,omitempty"`
	SweepVsParallel *float64 `json:"sweep_max_rate_vs_parallel,omitempty"`
}

func ratios(runs []RunResult) Ratios {
	applied, busy, backlog, sweep := map[string]*float64{}, map[string]*float64{}, map[string]*float64{}, map[string]*float64{}
	cpu, targetCPU := map[string]*float64{}, map[string]*float64{}
	for _, r := range runs {
		applied[r.Name], busy[r.Name] = &r.AppliedTxnPerS, r.ApplierBusyTxnPerS
		if r.Backlog != nil {
			backlog[r.Name], cpu[r.Name], targetCPU[r.Name] = &r.Backlog.TxnPerS, &r.Backlog.CPUPerTxnMS, &r.Backlog.TargetCPUPerTxnMS
		}
		if r.Sweep != nil {
			sweep[r.Name] = r.Sweep.MaxRate
		}
	}
	div := func(by map[string]*float64, other string) *float64 {
		p, o := by[RunPlatform], by[other]
		if p == nil || o == nil || *o == 0 {
			return nil
		}
		return opt(*p / *o)
	}
	return Ratios{AppliedVsSingle: div(applied, RunSingle), AppliedVsParallel: div(applied, RunParallel),
		BusyApplyVsSingle: div(busy, RunSingle), BusyApplyVsParallel: div(busy, RunParallel),
		BacklogVsSingle: div(backlog, RunSingle), BacklogVsParallel: div(backlog, RunParallel),
		BacklogCPUVsParallel: div(cpu, RunParallel), BacklogTargetCPUVsParallel: div(targetCPU, RunParallel),
		SweepVsSingle: div(sweep, RunSingle), SweepVsParallel: div(sweep, RunParallel)}
}

// Check fails when a run's target ended with different data than its
// source: such a run's figures do not count.
func (r *Report) Check() error {
	var bad []string
	for _, run := range r.Runs {
		if !run.ChecksumsEqual {
			for _, c := range run.Checksums {
				switch {
				case c.Error != "":
					bad = append(bad, fmt.Sprintf("%s: %s not compared: %s", run.Name, c.Table, c.Error))
				case c.DifferingRows > 0:
					bad = append(bad, fmt.Sprintf("%s: %s %d of %d rows differ", run.Name, c.Table, c.DifferingRows, c.Rows))
				}
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("target differs from source after catch-up (a failed run): %s", strings.Join(bad, "; "))
	}
	return nil
}

// WriteText prints the report as a table for people.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "workload: %d tables x %d rows, %d threads, %s, rate %s, conflict %s; %d CPUs\n\n",
		r.Workload.Tables, r.Workload.Rows, r.Workload.Threads, r.Workload.Duration, rateText(r.Workload.Rate), cmp.Or(r.Workload.Conflict, "default (reject)"), r.Host.CPUs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tsource txn/s\tapplied txn/s\tbusy apply txn/s\tcatch-up s\tlag p50 s\tlag p99 s\tlag max s\tregiond RSS MB\tchecksums\tload avg\t")
	for _, x := range r.Runs {
		sum := "equal"
		if !x.ChecksumsEqual {
			sum = "DIFFER"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%.1f-%.1f\t\n", x.Name, x.SourceTxnPerS, x.AppliedTxnPerS,
			fmtOpt(x.ApplierBusyTxnPerS, "%.0f"), x.CatchUpSeconds, fmtOpt(x.LagP50S, "%.3f"), fmtOpt(x.LagP99S, "%.3f"),
			fmtOpt(x.LagMaxS, "%.3f"), fmtOpt(x.PeakRSSMB, "%.0f"), sum, x.LoadAvgBefore, x.LoadAvgAfter)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCPU seconds from the start of the load to the end of catch-up:")
	for _, x := range r.Runs {
		names := slices.Sorted(maps.Keys(x.CPUSeconds))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %.1f", n, x.CPUSeconds[n])
		}
		fmt.Fprintf(w, "  %s: %s\n", x.Name, strings.Join(parts, ", "))
	}
	for _, x := range r.Runs {
		if b := x.Backlog; b != nil {
			names := slices.Sorted(maps.Keys(b.CPUSeconds))
			parts := make([]string, len(names))
			for i, n := range names {
				parts[i] = fmt.Sprintf("%s %.2f ms", n, 1000*b.CPUSeconds[n]/float64(b.Txns))
			}
			fmt.Fprintf(w, "  %s backlog: %d transactions drained in %.2fs (%.0f txn/s); CPU per transaction: %s\n", x.Name, b.Txns, b.DrainSeconds, b.TxnPerS, strings.Join(parts, ", "))
		}
	}
	for _, x := range r.Runs {
		if sw := x.Sweep; sw != nil {
			parts := make([]string, len(sw.Steps))
			for i, s := range sw.Steps {
				parts[i] = fmt.Sprintf("%.0f/s p99 %s s", s.Rate, fmtOpt(s.LagP99S, "%.3f"))
			}
			more := ""
			if sw.AllMet {
				more = " (every rate met: its highest is above)"
			}
			fmt.Fprintf(w, "  %s sweep (lag p99 under %.0f ms, %.0fs a rate): highest rate %s%s; %s\n", x.Name, 1000*sw.SLOSeconds, sw.StepSeconds, fmtOpt(sw.MaxRate, "%.0f/s"), more, strings.Join(parts, ", "))
		}
	}
	if r.Ratios.SweepVsSingle != nil || r.Ratios.SweepVsParallel != nil {
		fmt.Fprintf(w, "platform vs MariaDB, highest rate under the lag SLO: single-thread %s, parallel optimistic (4) %s\n", fmtOpt(r.Ratios.SweepVsSingle, "%.2f"), fmtOpt(r.Ratios.SweepVsParallel, "%.2f"))
	}
	_, err := fmt.Fprintf(w, "\nplatform vs MariaDB single-thread: applied %s, busy apply %s, backlog %s; vs parallel optimistic (4): applied %s, busy apply %s, backlog %s\n",
		fmtOpt(r.Ratios.AppliedVsSingle, "%.2f"), fmtOpt(r.Ratios.BusyApplyVsSingle, "%.2f"), fmtOpt(r.Ratios.BacklogVsSingle, "%.2f"),
		fmtOpt(r.Ratios.AppliedVsParallel, "%.2f"), fmtOpt(r.Ratios.BusyApplyVsParallel, "%.2f"), fmtOpt(r.Ratios.BacklogVsParallel, "%.2f"))
	if err == nil && r.Ratios.BacklogCPUVsParallel != nil {
		_, err = fmt.Fprintf(w, "backlog CPU per drained transaction vs parallel optimistic (4): every process %s, the target MySQL alone %s\n",
			fmtOpt(r.Ratios.BacklogCPUVsParallel, "%.2f"), fmtOpt(r.Ratios.BacklogTargetCPUVsParallel, "%.2f"))
	}
	return err
}

func fmtOpt(v *float64, f string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(f, *v)
}
