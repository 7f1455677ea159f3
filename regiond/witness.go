package regiond

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
)

// RunWitness runs the controller's witness until ctx ends: a Raft voter
// and a gossip observer with no MySQL and no API of its own, in a third
// place, so that a two-region deployment keeps a majority when a region
// is down. It probes the regions' MySQL like every observer does.
func RunWitness(ctx context.Context, dep *config.Config, log *slog.Logger) error {
	if dep.Controller.Witness == nil {
		return errors.New("controller.witness is not configured: add raft, gossip and data_dir for it")
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", WitnessID)
	var mu sync.Mutex
	dbs := map[string]*sql.DB{}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	dialer := dial.For(dep, WitnessID)
	db := func(region string) (*sql.DB, error) {
		mu.Lock()
		defer mu.Unlock()
		if h := dbs[region]; h != nil {
			return h, nil
		}
		h, err := dialer.MySQL(dep, region)
		if err != nil {
			return nil, err
		}
		dbs[region] = h
		return h, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c, err := newController(dep, WitnessID, false, "", dep.Resolve(dep.Controller.Witness.DataDir), dialer, probeMySQL(db), nil, reg, log)
	if err != nil {
		return err
	}
	w := dep.Controller.Witness
	log.Info("witness starting", "raft", w.Raft, "gossip", w.Gossip, "metrics", w.Metrics)
	comps := []component{{"controller", c.Run}}
	if w.Metrics != "" {
		comps = append(comps, component{"metrics", func(ctx context.Context) error { return serveMetrics(ctx, w.Metrics, reg) }})
	}
	return runComponents(ctx, comps)
}
