package liveness

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the liveness collectors, labelled by member name.
type Metrics struct {
	members *prometheus.GaugeVec
	events  *prometheus.CounterVec
	views   *prometheus.CounterVec
	mysql   *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg (if not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "regiond", Subsystem: "liveness", Name: "members",
			Help: "Members this member sees alive or suspect in the gossip.",
		}, []string{"member"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "regiond", Subsystem: "liveness", Name: "events_total",
			Help: "Detector events by kind (failed, suppressed, returned) and region.",
		}, []string{"member", "kind", "region"}),
		views: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "regiond", Subsystem: "liveness", Name: "views_received_total",
			Help: "Views received from other observers; result is ok or bad.",
		}, []string{"member", "result"}),
		mysql: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "regiond", Subsystem: "liveness", Name: "mysql_reachable",
			Help: "1 if the last probe of the region's MySQL from this member succeeded.",
		}, []string{"member", "region"}),
	}
	if reg != nil {
		reg.MustRegister(m.members, m.events, m.views, m.mysql)
	}
	return m
}
