package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/regionplatform/region/router"
)

// metrics are the gateway's Prometheus collectors. Every series a request
// touches is bound at start, so counting does not allocate.
type metrics struct {
	byClass [6]prometheus.Counter // index: status code / 100
	refused prometheus.Counter
	keyless prometheus.Counter
	// globalWrites counts declared writes of global tables, globalRefused
	// those refused 409 (the user's region is not the table's home).
	globalWrites, globalRefused prometheus.Counter
	duration                    prometheus.Histogram
	// reads counts reads by level (levelIndex) and where they were
	// served: [level][0] locally, [level][1] by the owner.
	reads       [4][2]prometheus.Counter
	sessionWait prometheus.Histogram
	all         []prometheus.Collector
}

func newMetrics(f *router.Inflight) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "regiond", Subsystem: "gateway", Name: name, Help: help}
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts(opts("requests_total",
		"Requests answered, by status code class (1xx-5xx): the application's answers and the gateway's own refusals.")), []string{"code"})
	m := &metrics{
		refused: prometheus.NewCounter(prometheus.CounterOpts(opts("refused_writes_total",
			"Writes refused 503: their bucket is write-forbidden (a traffic switch moves it, its region is fenced, the router is cut off from etcd), or, without a user key, the default region takes no writes."))),
		keyless: prometheus.NewCounter(prometheus.CounterOpts(opts("keyless_writes_total",
			"Writes without a user key (sent to router.default_region while it takes writes, else refused)."))),
		globalWrites: prometheus.NewCounter(prometheus.CounterOpts(opts("global_writes_total",
			"Writes of routes declared in router.global_writes: sent to the global table's home region."))),
		globalRefused: prometheus.NewCounter(prometheus.CounterOpts(opts("global_refused_total",
			"Writes of a global table refused 409: the request's user lives outside the table's home region."))),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "gateway", Name: "proxy_duration_seconds",
			Help:    "Time from a proxied request's arrival to the end of its response, application time included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
	}
	reads := prometheus.NewCounterVec(prometheus.CounterOpts(opts("reads_total",
		"Reads by consistency level (strong unless the route or X-Consistency says otherwise) and where they were served: local (the gateway's region) or owner (the user's cell's region; a bounded or session read the local region could not serve is forwarded there).")), []string{"level", "served"})
	for name, i := range levelIndex {
		m.reads[i][0], m.reads[i][1] = reads.WithLabelValues(name, "local"), reads.WithLabelValues(name, "owner")
	}
	m.sessionWait = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "gateway", Name: "session_wait_seconds",
		Help:    "How long session reads waited for the local region to apply the client's last write (served locally or, past router.session_wait, forwarded).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}})
	for i := 1; i < len(m.byClass); i++ {
		m.byClass[i] = requests.WithLabelValues(fmt.Sprintf("%dxx", i))
	}
	m.byClass[0] = m.byClass[5] // out-of-range codes count as server errors
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("inflight_writes",
		"Writes admitted and not finished yet (the ones a router's Settle waits for).")), func() float64 { return float64(f.Running()) })
	timeouts := prometheus.NewCounterFunc(prometheus.CounterOpts(opts("settle_timeouts_total",
		"Times Settle gave up waiting for writes admitted under an older routing table and let the router report the new epoch anyway.")),
		func() float64 { return float64(f.Timeouts()) })
	m.all = []prometheus.Collector{requests, m.refused, m.keyless, m.globalWrites, m.globalRefused, m.duration, reads, m.sessionWait, running, timeouts}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	for _, c := range m.all {
		if err := r.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				return fmt.Errorf("gateway: metrics already registered: give each gateway its own registry: %w", err)
			}
			return fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return nil
}

// count records one answer with status code.
func (m *metrics) count(code int) {
	c := code / 100
	if c < 1 || c >= len(m.byClass) {
		c = 0
	}
	m.byClass[c].Inc()
}
