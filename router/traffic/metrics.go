package traffic

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	switches *prometheus.CounterVec
	steps    *prometheus.HistogramVec
	window   prometheus.Histogram
}

// newMetrics registers the switch's collectors on reg (none when nil):
// regiond_switch_total{state}, regiond_switch_step_seconds{step,ok} and
// regiond_switch_write_forbidden_seconds.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "regiond", Subsystem: "switch", Name: "total",
			Help: "Traffic switches ended, by final state (done, aborted, failed)."}, []string{"state"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "switch", Name: "step_seconds",
			Help: "Duration of traffic switch steps.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"step", "ok"}),
		window: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "switch", Name: "write_forbidden_seconds",
			Help: "How long buckets were write-forbidden per switch stage.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.switches, m.steps, m.window} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) step(name string, d time.Duration, ok bool) {
	label := "true"
	if !ok {
		label = "false"
	}
	m.steps.WithLabelValues(name, label).Observe(d.Seconds())
}

func (m *metrics) finished(r *Record) { m.switches.WithLabelValues(r.State).Inc() }
