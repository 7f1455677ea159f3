package regiond

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/dial"
)

// health checks dependencies on an interval and keeps the last results,
// so status requests never wait on a slow dependency.
type health struct {
	every  time.Duration
	log    *slog.Logger
	up     *prometheus.GaugeVec
	mu     sync.Mutex
	checks []namedCheck
	last   map[string]api.CheckResult
}

type namedCheck struct {
	name string
	fn   func(context.Context) error
}

func newHealth(reg *prometheus.Registry, every time.Duration, log *slog.Logger) *health {
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "dependency", Name: "up",
		Help: "1 when the last check of the dependency succeeded."}, []string{"dependency"})
	reg.MustRegister(up)
	return &health{every: every, log: log, up: up, last: map[string]api.CheckResult{}}
}

func (h *health) add(name string, fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, namedCheck{name, fn})
	h.last[name] = api.CheckResult{Name: name, Error: "not checked yet"}
}

// Run checks every dependency at once on each tick until ctx ends.
func (h *health) Run(ctx context.Context) error {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.checkAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *health) checkAll(ctx context.Context) {
	h.mu.Lock()
	checks := append([]namedCheck(nil), h.checks...)
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, h.every)
			defer cancel()
			t := time.Now()
			err := c.fn(cctx)
			res := api.CheckResult{Name: c.name, OK: err == nil, LatencyMS: float64(time.Since(t).Microseconds()) / 1000, Checked: time.Now().UTC()}
			if err != nil {
				res.Error = err.Error()
			}
			h.mu.Lock()
			prev := h.last[c.name]
			h.last[c.name] = res
			h.mu.Unlock()
			switch {
			case ctx.Err() != nil || prev.OK == res.OK:
			case res.OK:
				h.log.Info("dependency healthy", "dependency", c.name)
			default:
				h.log.Warn("dependency failing", "dependency", c.name, "err", res.Error)
			}
			v := 0.0
			if res.OK {
				v = 1
			}
			h.up.WithLabelValues(c.name).Set(v)
		}()
	}
	wg.Wait()
}

func (h *health) results() []api.CheckResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]api.CheckResult, 0, len(h.checks))
	for _, c := range h.checks {
		out = append(out, h.last[c.name])
	}
	return out
}

func (d *Daemon) checkMySQL(ctx context.Context) error { return d.db.PingContext(ctx) }

func (d *Daemon) checkEtcd(ctx context.Context) error {
	_, err := d.etcd.Get(ctx, d.cfg.Deployment.Etcd.Prefix+"health", clientv3.WithCountOnly())
	return err
}

func (d *Daemon) checkKafka(ctx context.Context) error {
	brokers, sc, err := dial.Kafka(d.cfg.Deployment, d.region.Name)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		sc.Net.DialTimeout = time.Until(dl)
	}
	sc.Metadata.Retry.Max = 0
	sc.Metadata.Full = false
	c, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return err
	}
	defer c.Close()
	// A metadata round trip proves a broker answers the Kafka protocol.
	if err := c.RefreshMetadata(); err != nil {
		return err
	}
	if len(c.Brokers()) == 0 {
		return errors.New("no brokers in metadata")
	}
	return nil
}
