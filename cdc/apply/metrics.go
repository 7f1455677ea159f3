package apply

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	txns, rows, duplicates, discarded, retries, halted, conflicts, quarantined, violations prometheus.Counter
	depWaits, runsCut, folded, notFresh, seeded                                            prometheus.Counter
	depWaitSeconds, deletesWaitSeconds                                                     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, a *Applier) (*metrics, error) {
	source, target := a.cfg.Source, a.cfg.Target
	l := prometheus.Labels{"source": source, "target": target}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "regiond", Subsystem: "apply", Name: name, Help: help, ConstLabels: l})
	}
	m := &metrics{
		txns:        c("transactions_total", "Source transactions applied."),
		rows:        c("rows_total", "Rows applied."),
		duplicates:  c("duplicates_skipped_total", "Messages skipped because they were applied before (re-sent)."),
		discarded:   c("discarded_total", "Source transactions skipped because a failback discarded them (a forced failover's RPO)."),
		retries:     c("retries_total", "Transient failures retried."),
		halted:      c("partition_halts_total", "Times a partition halted on a message it cannot apply."),
		conflicts:   c("conflicts_total", "Conflicts resolved (a row changed in both regions); see _region.conflicts."),
		quarantined: c("quarantined_total", "Messages an operator skipped on a halted partition (regionctl link skip); kept in _region.quarantine."),
		violations:  c("ownership_violations_total", "Writes of a bucket the source region did not own when it wrote them (no guard, or a stale one); see _region.violations."),
		notFresh:    c("fresh_insert_retries_total", "Applies done again with locking reads because a key inserted without one (no gap lock) was in the target after all: a conflict, or the same row written in both regions."),
		seeded:      c("seeded_rows_skipped_total", "Rows not applied because a seeded copy of their table already held them (regionctl region rebuild, regionctl seed; cdc/seed)."),
		folded:      c("folded_transactions_total", "Source transactions applied folded with the rest of their run: one probe and one delete and upsert per table for the run (no conflict, no unique key)."),
		depWaits:    c("dependency_waits_total", "Transactions that waited for an earlier transaction of another partition with an overlapping writeset."),
		runsCut:     c("runs_cut_total", "Runs of transactions committed early because another partition waits for their last one (it then waits for a shorter run)."),
		depWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "apply", Name: "dependency_wait_seconds",
			Help: "How long a transaction waited for the partitions it depends on.", ConstLabels: l, Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
		deletesWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "apply", Name: "local_deletes_wait_seconds",
			Help: "How long a change of a versioned key the target lacks waited for the target's capture to record the target's own deletes (tombstones).", ConstLabels: l, Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, col := range []prometheus.Collector{newLinkCollector(a, l), m.txns, m.rows, m.duplicates, m.discarded, m.retries, m.halted, m.conflicts, m.quarantined, m.violations, m.depWaits, m.runsCut, m.folded, m.notFresh, m.seeded, m.depWaitSeconds, m.deletesWaitSeconds} {
		errs = append(errs, reg.Register(col))
	}
	return m, errors.Join(errs...)
}

// linkCollector reports the link's lag and state when Prometheus scrapes
// (from Status), so that they are current whether or not anyone asks
// for the status.
type linkCollector struct {
	a                                  *Applier
	lagTxns, lagSeconds, state, halted *prometheus.Desc
}

func newLinkCollector(a *Applier, l prometheus.Labels) *linkCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("regiond", "apply", name), help, labels, l)
	}
	return &linkCollector{a: a,
		lagTxns:    d("lag_transactions", "Transactions published by the source and not yet applied here."),
		lagSeconds: d("lag_seconds", "Age of the oldest partition watermark while behind; 0 when caught up."),
		state:      d("link_state", "1 for the link's state (starting, running, halted, held, unreachable, failed, stopped), 0 for the others.", "state"),
		halted:     d("partitions_halted", "Partitions halted on a message they cannot apply, waiting for an operator (regionctl link retry or skip)."),
	}
}

// Describe implements prometheus.Collector.
func (c *linkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagTxns
	ch <- c.lagSeconds
	ch <- c.state
	ch <- c.halted
}

// Collect implements prometheus.Collector.
func (c *linkCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := c.a.Status(ctx)
	ch <- prometheus.MustNewConstMetric(c.lagTxns, prometheus.GaugeValue, float64(st.LagTxns))
	ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, st.LagSeconds)
	for _, s := range States {
		v := 0.0
		if st.State == s {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s)
	}
	halted := 0
	for _, p := range st.Partitions {
		if p.State == StateHalted {
			halted++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.halted, prometheus.GaugeValue, float64(halted))
}
