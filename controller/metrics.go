package controller

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the controller's Prometheus collectors, labelled by node id
// so that several nodes of one process (tests, a witness beside a
// regiond) can share them.
type Metrics struct {
	state         *prometheus.GaugeVec
	leaderChanges *prometheus.CounterVec
	applySeconds  *prometheus.HistogramVec
	applyErrors   *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg (if not
// nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "regiond", Subsystem: "controller", Name: "raft_state",
			Help: "Raft state of the node: 0 follower, 1 candidate, 2 leader, 3 shutdown.",
		}, []string{"node"}),
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "regiond", Subsystem: "controller", Name: "leader_changes_total",
			Help: "Times this node saw the cluster's leader change (including to none).",
		}, []string{"node"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "regiond", Subsystem: "controller", Name: "apply_seconds",
			Help:    "Time from Execute to the command being applied on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"node", "op"}),
		applyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "regiond", Subsystem: "controller", Name: "apply_errors_total",
			Help: "Execute calls that failed, by kind: not_leader, rejected, bad_command, raft.",
		}, []string{"node", "kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.state, m.leaderChanges, m.applySeconds, m.applyErrors)
	}
	return m
}
