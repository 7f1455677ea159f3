package apiserver

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's collectors, registered on the daemon's registry.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	authFailures  prometheus.Counter
	auditFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "regiond", "api"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests to token-protected routes, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to serve requests to token-protected routes, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Requests refused for a missing or invalid token (401) or a role too weak for the route (403).",
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "audit_write_failures_total",
			Help: "Audit records that could not be written; any increase needs attention.",
		}),
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			// Unregister only what this call registered: equal
			// collectors of another server would go too.
			for _, d := range m.collectors()[:i] {
				reg.Unregister(d)
			}
			return nil, fmt.Errorf("api: register metrics (does another api.Server use this registry?): %w", err)
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.duration, m.authFailures, m.auditFailures}
}

// unregister removes m's collectors from reg.
func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

// methodLabel bounds the method label: anything but a standard method,
// which an unauthenticated client may send, counts as "OTHER".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
