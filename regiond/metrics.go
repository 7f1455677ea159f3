package regiond

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/router"
)

// registerRoutingMetrics registers the gauges of the routing table this
// regiond holds from its watch, read when Prometheus scrapes.
func (d *Daemon) registerRoutingMetrics() error {
	fenced := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "router", Name: "buckets_fenced",
		Help: "Buckets write-forbidden by a traffic switch in the routing table this regiond holds (a switch in progress, or one left fenced)."},
		func() float64 {
			t := d.router.Table()
			if t == nil {
				return 0
			}
			n := 0
			for _, s := range t.Spans {
				if s.State == router.WriteForbidden {
					n += int(s.Last-s.First) + 1
				}
			}
			return float64(n)
		})
	epoch := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "router", Name: "epoch",
		Help: "The epoch of the routing table this regiond holds; regions that differ for long hold different tables."},
		func() float64 {
			if t := d.router.Table(); t != nil {
				return float64(t.Epoch)
			}
			return 0
		})
	for _, c := range []prometheus.Collector{fenced, epoch} {
		if err := d.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
