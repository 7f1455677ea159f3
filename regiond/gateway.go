package regiond

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/gateway"
)

// gatewaySettle returns the in-flight write tracker of the region's
// gateway when regions[].gateway_listen is set (nil otherwise); its Settle
// must be the router's, so it is made before the router.
func gatewaySettle(r *config.Region, log *slog.Logger) *router.Inflight {
	if r.GatewayListen == "" {
		return nil
	}
	return router.NewInflight(router.DefaultSettleBound, log)
}

// newGateway builds the gateway of region on router rt, whose Settle is
// inflight's; rep (nil: none) answers bounded and session reads; its
// metrics go to reg.
func newGateway(dep *config.Config, region string, rt *router.Router, inflight *router.Inflight, rep gateway.Replica, reg prometheus.Registerer, log *slog.Logger) (*gateway.Gateway, error) {
	gc, err := gateway.FromDeployment(dep, region)
	if err != nil {
		return nil, err
	}
	gc.Router, gc.Inflight, gc.Replica, gc.Registerer, gc.Logger = rt, inflight, rep, reg, log
	g, err := gateway.New(gc)
	if err != nil {
		return nil, fmt.Errorf("regions[%s].gateway_listen: %w", region, err)
	}
	return g, nil
}

// gatewayComponents is the gateway component, if the region runs one.
func (d *Daemon) gatewayComponents() []component {
	if d.gateway == nil {
		return nil
	}
	return []component{{"gateway", d.gateway.Run}}
}

// GatewayConfig is what RunGateway needs.
type GatewayConfig struct {
	// Deployment is the loaded, validated deployment config.
	Deployment *config.Config
	// Region is the region whose gateway_listen the gateway serves.
	Region string
	// MetricsListen, if set, is a host:port serving GET /metrics.
	MetricsListen string
	// Logger receives the logs (default slog.Default()).
	Logger *slog.Logger
}

// RunGateway runs only a router and the gateway of one region (regiond
// --gateway-only): no API, capture or appliers. The router registers as
// kind "gateway", so a traffic switch waits for it to apply each fence,
// and its Settle waits for the writes this gateway admitted under older
// tables. It does not write the first routing table: until a regiond
// has, every request with a user key is answered 503. It returns when
// ctx ends, or on the first component's error.
func RunGateway(ctx context.Context, cfg GatewayConfig) error {
	if cfg.Deployment == nil {
		return errors.New("regiond: no deployment config")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dep := cfg.Deployment
	r, ok := dep.Region(cfg.Region)
	if !ok {
		return fmt.Errorf("region %q is not in the config: use one of %v", cfg.Region, dep.RegionNames())
	}
	if r.GatewayListen == "" {
		return fmt.Errorf("regions[%s].gateway_listen is empty: set the host:port the gateway serves on", r.Name)
	}
	log = log.With("region", r.Name)
	etcd, err := dial.Etcd(ctx, dep)
	if err != nil {
		return err
	}
	defer etcd.Close()
	host, _ := os.Hostname()
	inflight := router.NewInflight(router.DefaultSettleBound, log)
	rc := router.DefaultConfig()
	rc.Store, rc.Region, rc.Kind, rc.Logger = router.NewStore(etcd, dep.Etcd.Prefix), r.Name, "gateway", log
	rc.ID = fmt.Sprintf("gateway-%s-%s-%d", r.Name, host, os.Getpid())
	rc.Endpoints, rc.Settle = appEndpoints(dep.Regions), inflight.Settle
	rt, err := router.New(rc)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Without appliers in this process, bounded and session reads go to
	// their owner.
	g, err := newGateway(dep, r.Name, rt, inflight, nil, reg, log)
	if err != nil {
		return err
	}
	comps := []component{{"router", rt.Run}, {"gateway", g.Run}}
	if cfg.MetricsListen != "" {
		comps = append(comps, component{"metrics", func(ctx context.Context) error {
			return serveMetrics(ctx, cfg.MetricsListen, reg)
		}})
	}
	log.Info("gateway-only mode starting", "listen", r.GatewayListen, "router", rc.ID)
	return runComponents(ctx, comps)
}

// serveMetrics serves GET /metrics from reg on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (change --metrics-listen)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}
