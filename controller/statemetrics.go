package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StateCollector reports, when Prometheus scrapes, what the controller's
// replicated state says: failovers running, regions failed and fenced,
// and the drills. Every node reports its own copy of the same state:
// alert on the max across nodes.
type StateCollector struct {
	node                                         *Node
	regions                                      []string
	failovers, failed, fenced, drillEnded, drill *prometheus.Desc
}

// NewStateCollector returns the collector of node n (id labels it, as
// Metrics are) for the deployment's regions.
func NewStateCollector(n *Node, id string, regions []string) *StateCollector {
	l := prometheus.Labels{"node": id}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("regiond", "controller", name), help, labels, l)
	}
	return &StateCollector{node: n, regions: regions,
		failovers:  d("failovers_running", "Failovers and failbacks started and not ended."),
		failed:     d("region_failed", "1 while the controller holds the region failed (declared failed and not seen back since).", "region"),
		fenced:     d("region_fenced", "1 while the region is fenced: it takes no writes until an operator or a failback unfences it.", "region"),
		drillEnded: d("drill_last_ended_timestamp_seconds", "When the last drill with this outcome ended (Unix time; 0: never).", "outcome"),
		drill:      d("drill_last_outcome", "1 for the outcome of the drill that ended last, 0 for the others.", "outcome"),
	}
}

// Describe implements prometheus.Collector.
func (c *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.failovers, c.failed, c.fenced, c.drillEnded, c.drill} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.State()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	running := 0
	for _, f := range s.Failovers {
		if f.Active() {
			running++
		}
	}
	gauge(c.failovers, float64(running))
	for _, name := range c.regions {
		r := s.Regions[name]
		gauge(c.failed, b2f(!r.FailedAt.IsZero() && r.FailedAt.After(r.ReturnedAt)), name)
		gauge(c.fenced, b2f(r.Fenced), name)
	}
	ended := map[string]time.Time{}
	var last DrillRecord
	for _, d := range s.Drills {
		if d.EndedAt.IsZero() || d.Outcome == DrillRunning {
			continue
		}
		if d.EndedAt.After(ended[d.Outcome]) {
			ended[d.Outcome] = d.EndedAt
		}
		if d.EndedAt.After(last.EndedAt) {
			last = d
		}
	}
	for _, o := range []string{DrillPassed, DrillPassedConditions, DrillFailed} {
		v := 0.0
		if t := ended[o]; !t.IsZero() {
			v = float64(t.UnixNano()) / 1e9
		}
		gauge(c.drillEnded, v, o)
		gauge(c.drill, b2f(last.Outcome == o), o)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
