package regiond

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/verify"
)

// Continuous verification (docs/cdc.md): the controller's leader compares
// every replicated table across the regions every
// replication.verify_every and stores the pass in etcd; every regiond
// reads the last pass from there for its status and its metrics, so any
// region's status, metrics and console show a drift.

// verifyPollEvery is how often a regiond reads the last pass from etcd.
const verifyPollEvery = 10 * time.Second

// verifier runs the passes (on the leader) and keeps the last one.
type verifier struct {
	d   *Daemon
	key string

	mu   sync.Mutex
	last *verify.Pass

	differing, failed, finished prometheus.Gauge
}

func newVerifier(d *Daemon) (*verifier, error) {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "verify", Name: name, Help: help})
	}
	v := &verifier{d: d, key: d.cfg.Deployment.Etcd.Prefix + "verify/last",
		differing: g("differing_rows", "Rows that differ between the regions in the last continuous verification pass (after re-checks for lag)."),
		failed:    g("tables_failed", "Tables the last continuous verification pass could not compare."),
		finished:  g("last_pass_timestamp_seconds", "When the last continuous verification pass finished (unix seconds)."),
	}
	for _, c := range []prometheus.Collector{v.differing, v.failed, v.finished} {
		if err := d.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Run runs passes while this node leads the controller and reads the last
// pass, until ctx ends.
func (v *verifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if v.d.ctl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = v.d.ctl.node.WhileLeader(ctx, v.d.cfg.Deployment.Replication.VerifyEvery, func(time.Time) { v.pass(ctx) })
		}()
	}
	t := time.NewTicker(verifyPollEvery)
	defer t.Stop()
	for {
		v.read(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

// pass compares every replicated table once and stores the outcome.
func (v *verifier) pass(ctx context.Context) {
	cfg := verify.DefaultMonitorConfig()
	cfg.Replication = v.d.cfg.Deployment.Replication
	cfg.Regions = v.regions
	p := verify.RunPass(ctx, cfg)
	if ctx.Err() != nil {
		return
	}
	if p.Equal() {
		v.d.log.Info("continuous verification: every replicated table is identical in every region", "tables", p.Tables, "rows", p.Rows, "took", p.Finished.Sub(p.Started).Round(time.Millisecond))
	} else {
		var first string
		if len(p.Diffs) > 0 {
			d := p.Diffs[0]
			first = fmt.Sprintf("%s %s: %s in %s", d.Table, d.Key, d.Kind, d.Region)
		}
		v.d.log.Warn("continuous verification: the regions differ", "differing_rows", p.DifferingRows, "first", first, "errors", p.Errors)
	}
	b, err := json.Marshal(p)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = v.d.etcd.Put(wctx, v.key, string(b))
		cancel()
	}
	if err != nil {
		v.d.log.Warn("continuous verification: pass not stored", "err", err)
	}
	v.set(p)
}

// regions is every region's MySQL, this one first (the reference).
func (v *verifier) regions(context.Context) ([]verify.Region, error) {
	out := []verify.Region{{Name: v.d.region.Name, DB: v.d.db}}
	for _, r := range v.d.cfg.Deployment.Regions {
		if r.Name == v.d.region.Name {
			continue
		}
		db, err := v.d.peers.DB(r.Name)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err)
		}
		out = append(out, verify.Region{Name: r.Name, DB: db})
	}
	return out, nil
}

// read takes the last pass from etcd.
func (v *verifier) read(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := v.d.etcd.Get(rctx, v.key)
	if err != nil || len(resp.Kvs) == 0 {
		return
	}
	var p verify.Pass
	if err := json.Unmarshal(resp.Kvs[0].Value, &p); err != nil {
		v.d.log.Warn("continuous verification: the stored pass is unreadable", "key", v.key, "err", err)
		return
	}
	v.set(&p)
}

func (v *verifier) set(p *verify.Pass) {
	v.mu.Lock()
	if v.last != nil && p.Finished.Before(v.last.Finished) {
		v.mu.Unlock()
		return
	}
	v.last = p
	v.mu.Unlock()
	v.differing.Set(float64(p.DifferingRows))
	v.failed.Set(float64(len(p.Errors)))
	v.finished.Set(float64(p.Finished.Unix()))
}

// lastPass is the last pass known (nil: none yet).
func (v *verifier) lastPass() *verify.Pass {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.last
}
