package apply

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	txns, rows, duplicates, discarded, retries, halted, conflicts, quarantined, violations prometheus.Counter
	lagTxns, lagSeconds                                                                    prometheus.Gauge
	depWaits, folded                                                                       prometheus.Counter
	depWaitSeconds, deletesWaitSeconds                                                     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, source, target string) (*metrics, error) {
	l := prometheus.Labels{"source": source, "target": target}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "regiond", Subsystem: "apply", Name: name, Help: help, ConstLabels: l})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "apply", Name: name, Help: help, ConstLabels: l})
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
		lagTxns:     g("lag_transactions", "Transactions published by the source and not yet applied here."),
		lagSeconds:  g("lag_seconds", "Age of the oldest partition watermark while behind; 0 when caught up."),
		folded:      c("folded_transactions_total", "Source transactions applied folded with the rest of their run: one probe and one delete and upsert per table for the run (no conflict, no unique key)."),
		depWaits:    c("dependency_waits_total", "Transactions that waited for an earlier transaction of another partition with an overlapping writeset."),
		depWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "apply", Name: "dependency_wait_seconds",
			Help: "How long a transaction waited for the partitions it depends on.", ConstLabels: l, Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
		deletesWaitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "apply", Name: "local_deletes_wait_seconds",
			Help: "How long a change of a versioned key the target lacks waited for the target's capture to record the target's own deletes (tombstones).", ConstLabels: l, Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, col := range []prometheus.Collector{m.txns, m.rows, m.duplicates, m.discarded, m.retries, m.halted, m.conflicts, m.quarantined, m.violations, m.lagTxns, m.lagSeconds, m.depWaits, m.folded, m.depWaitSeconds, m.deletesWaitSeconds} {
		errs = append(errs, reg.Register(col))
	}
	return m, errors.Join(errs...)
}
