package capture

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	txns, echoes, messages, heartbeats, switchHeartbeats, errors, tombstones prometheus.Counter
	seq                                                                      prometheus.Gauge
	sendSeconds                                                              prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, c *Capture) (*metrics, error) {
	l := prometheus.Labels{"source": c.cfg.Region}
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "regiond", Subsystem: "capture", Name: name, Help: help, ConstLabels: l}
	}
	m := &metrics{
		txns:       prometheus.NewCounter(opts("transactions_total", "Source transactions published.")),
		echoes:     prometheus.NewCounter(opts("echoes_skipped_total", "Source transactions not published because an applier wrote them (loop prevention).")),
		messages:   prometheus.NewCounter(opts("messages_total", "Kafka messages sent for transactions (fragments and DDL copies included).")),
		heartbeats: prometheus.NewCounter(opts("heartbeats_total", "Watermark heartbeats sent to idle partitions.")),
		switchHeartbeats: prometheus.NewCounter(opts("switch_heartbeats_total",
			"Watermark heartbeats sent right after a batch because a traffic switch was waiting for replication (capture.Config.Switching).")),
		errors:     prometheus.NewCounter(opts("errors_total", "Times capture stopped on an error.")),
		tombstones: prometheus.NewCounter(opts("tombstones_total", "The region's own deletes of versioned rows (last-writer-wins, home-cell-wins) recorded as tombstones.")),
		seq: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "capture", Name: "published_seq",
			Help: "Transactions published and checkpointed (capture's Seq).", ConstLabels: l}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "capture", Name: "send_seconds",
			Help: "Time for Kafka to acknowledge a batch.", ConstLabels: l, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg == nil {
		return m, nil
	}
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "capture", Name: "running",
		Help: "1 while capture runs (reads the binlog and publishes), 0 after it stopped on an error until it is restarted.", ConstLabels: l},
		func() float64 {
			if c.Stats().Running {
				return 1
			}
			return 0
		})
	var errs []error
	for _, c := range []prometheus.Collector{running, m.txns, m.echoes, m.messages, m.heartbeats, m.switchHeartbeats, m.errors, m.tombstones, m.seq, m.sendSeconds} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}
