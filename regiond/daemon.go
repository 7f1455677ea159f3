package regiond

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/gateway"
	"github.com/regionplatform/region/router/traffic"
)

// Version is the build's version, set with -ldflags by make build.
var Version = "dev"

// Config is what a daemon needs to start.
type Config struct {
	// Deployment is the loaded, validated deployment config.
	Deployment *config.Config
	// Region is the region this daemon serves; it must be in Deployment.
	Region string
	// Logger receives the daemon's logs (default slog.Default()).
	Logger *slog.Logger
	// CheckInterval is how often dependencies are checked (default 2s).
	CheckInterval time.Duration
	// DrillRunner runs the drills the controller has scheduled, on its
	// leader. Nil: scheduled drills stay due (and a warning says why).
	DrillRunner DrillRunner
	// DrillCheckInterval is how often the leader looks for due drills
	// (default 10s).
	DrillCheckInterval time.Duration
	// Join makes a controller node with no Raft state wait to be added as
	// a voter by the running cluster (regionctl region add does it)
	// instead of starting a cluster of the config's nodes: a region added
	// to a running deployment. Ignored once the node has state.
	Join bool
}

// Daemon is one region's regiond.
type Daemon struct {
	cfg     Config
	region  *config.Region
	log     *slog.Logger
	reg     *prometheus.Registry
	api     *apiserver.Server
	db      *sql.DB
	etcd    *clientv3.Client
	health  *health
	repl    *replication
	store   *router.Store
	router  *router.Router
	gateway *gateway.Gateway // nil unless regions[].gateway_listen is set
	// replica answers bounded and session reads: the gateway's, and the
	// guards' through GET /v1/freshness/{from}.
	replica  *replica
	switcher *traffic.Switcher
	peers    *replicationView
	verifier *verifier
	// leaderHTTP forwards requests to the controller leader's regiond.
	leaderHTTP *http.Client
	dialer     *dial.Dialer           // outbound connections, through regions[].dial_via
	ctl        *controllerNode        // nil without a controller
	fo         *failover.Orchestrator // nil without a controller
	// opToken is the first operator token: scheduled drills act with it.
	opToken string
	started time.Time
	// readOnly is what keepReadOnly last set of the region's MySQL
	// (api.Status.MySQLReadOnly), readOnlyGauge the same as a metric.
	readOnly      atomic.Value
	readOnlyGauge prometheus.Gauge
}

// component is a long-running part of the daemon.
type component struct {
	name string
	run  func(context.Context) error
}

// runComponents runs every component until ctx ends; the first error
// stops the others and is returned.
func runComponents(ctx context.Context, comps []component) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(comps))
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", c.name, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// New checks cfg, resolves the API tokens and prepares connections. It
// does not block on any dependency being up: Run reports their health.
func New(cfg Config) (*Daemon, error) {
	if cfg.Deployment == nil {
		return nil, errors.New("regiond: no deployment config")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 2 * time.Second
	}
	if cfg.DrillCheckInterval == 0 {
		cfg.DrillCheckInterval = 10 * time.Second
	}
	r, ok := cfg.Deployment.Region(cfg.Region)
	if !ok {
		return nil, fmt.Errorf("region %q is not in the config: use one of %v", cfg.Region, cfg.Deployment.RegionNames())
	}
	d := &Daemon{cfg: cfg, region: r, log: cfg.Logger.With("region", r.Name), reg: prometheus.NewRegistry(), dialer: dial.For(cfg.Deployment, r.Name)}
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "regiond", Name: "info",
		Help: "Always 1; labels say which region and build this daemon is.", ConstLabels: prometheus.Labels{"region": r.Name, "version": Version}})
	info.Set(1)
	d.readOnlyGauge = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "regiond", Subsystem: "mysql", Name: "read_only",
		Help: "1 while this region's MySQL is read-only for the application (fenced or failed over), 0 when it takes writes, -1 before regiond decided (keepReadOnly)."})
	d.readOnlyGauge.Set(-1)
	d.reg.MustRegister(info, d.readOnlyGauge)

	tokens, err := apiTokens(cfg.Deployment)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if t.Role == apiserver.RoleOperator && d.opToken == "" {
			d.opToken = t.Secret
		}
	}
	ac := apiserver.DefaultConfig()
	ac.Listen = r.Listen
	ac.TLSCertFile = cfg.Deployment.Resolve(r.APITLS.CertFile)
	ac.TLSKeyFile = cfg.Deployment.Resolve(r.APITLS.KeyFile)
	ac.Tokens, ac.MetricsNeedToken = tokens, cfg.Deployment.API.MetricsNeedToken
	ac.AuditPath = filepath.Join(cfg.Deployment.Resolve(r.DataDir), "audit.log")
	if d.api, err = apiserver.New(ac, d.log, d.reg); err != nil {
		return nil, err
	}
	if d.db, err = dial.MySQL(cfg.Deployment, r.Name); err != nil {
		return nil, err
	}
	// The etcd client connects lazily; Run's health checks report it.
	if d.etcd, err = dial.Etcd(context.Background(), cfg.Deployment); err != nil {
		d.db.Close()
		return nil, err
	}
	// Other regionds' APIs: 5 s for a peer's status, client.Timeout for
	// a request forwarded to the controller's leader (a failover answers
	// when it is over).
	peerHTTP, err := client.NewHTTP(cfg.Deployment, 5*time.Second, d.dialer)
	if err == nil {
		d.leaderHTTP, err = client.NewHTTP(cfg.Deployment, client.Timeout, d.dialer)
	}
	if err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	d.peers = &replicationView{d: d, token: peerToken(tokens), http: peerHTTP, dbs: map[string]*sql.DB{}}
	d.store = router.NewStore(d.etcd, cfg.Deployment.Etcd.Prefix)
	// The controller comes first: the appliers ask its state whether
	// their source is held.
	if d.ctl, err = newController(cfg.Deployment, r.Name, cfg.Join, r.URL, cfg.Deployment.Resolve(r.DataDir), d.dialer, probeMySQL(d.peers.DB), d.onLiveness, d.reg, d.log); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if d.verifier, err = newVerifier(d); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if d.repl, err = d.newReplication(); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if d.router, err = d.newRouter(); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if d.switcher, err = d.newSwitcher(); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if err := d.registerRoutingMetrics(); err != nil {
		d.db.Close()
		d.etcd.Close()
		return nil, err
	}
	if d.ctl != nil {
		if d.fo, err = d.newOrchestrator(); err != nil {
			d.db.Close()
			d.etcd.Close()
			return nil, err
		}
	}
	d.health = newHealth(d.reg, cfg.CheckInterval, d.log)
	d.routes()
	return d, nil
}

// apiTokens reads every token's secret from its env var or file.
func apiTokens(c *config.Config) ([]apiserver.Token, error) {
	var out []apiserver.Token
	for i, t := range c.API.Tokens {
		s, err := c.Secret(fmt.Sprintf("api.tokens[%d] (%s)", i, t.Name), t.Env, t.File)
		if err != nil {
			return nil, err
		}
		out = append(out, apiserver.Token{Name: t.Name, Role: apiserver.Role(t.Role), Secret: s})
	}
	return out, nil
}

// Run serves until ctx ends, then stops everything in reverse order of
// start and returns. A component that fails stops the daemon.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	defer d.db.Close()
	defer d.etcd.Close()
	defer d.peers.close()
	d.health.add("mysql", d.checkMySQL)
	d.health.add("etcd", d.checkEtcd)
	d.health.add("kafka", d.checkKafka)

	_ = d.api.Audit(ctx, apiserver.AuditRecord{Time: time.Now().UTC(), Actor: "system", Action: "regiond.start", Target: d.region.Name, Result: "ok",
		Detail: map[string]string{"version": Version, "listen": d.region.Listen}})
	d.log.Info("regiond starting", "listen", d.region.Listen, "version", Version)
	if err := d.checkTables(ctx); err != nil {
		return err
	}

	// Components, in start order; each runs until ctx ends.
	comps := append([]component{{"health", d.health.Run}, {"router", d.runRouter}, {"switcher", d.switcher.Run}}, d.repl.components(d)...)
	comps = append(comps, component{"replica", d.replica.Run})
	comps = append(comps, d.gatewayComponents()...)
	if d.ctl != nil {
		comps = append(comps, component{"controller", d.ctl.Run}, component{"failover", d.fo.Run}, component{"drills", d.scheduledDrills},
			component{"read-only", d.keepReadOnly})
	}
	comps = append(comps, component{"verifier", d.verifier.Run})
	comps = append(comps, component{"api", d.api.Run})
	err := runComponents(ctx, comps)
	if err != nil {
		d.log.Error("regiond stopped on error", "err", err)
	} else {
		d.log.Info("regiond stopped")
	}
	return err
}

// checkTables refuses to start on a replicated table the applier could
// not apply (apply.CheckTables). A MySQL that cannot be reached now is
// not a reason to refuse: the applier halts on such a table's rows with
// the same explanation.
func (d *Daemon) checkTables(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	problems, err := apply.CheckTables(cctx, d.db, d.cfg.Deployment.Replication)
	if err != nil {
		d.log.Warn("replicated tables not checked at start", "err", err)
		return nil
	}
	if len(problems) > 0 {
		return fmt.Errorf("regiond: %d replicated table(s) in region %s cannot be replicated:\n  %s", len(problems), d.region.Name, strings.Join(problems, "\n  "))
	}
	return nil
}

// routes registers the daemon's API routes.
func (d *Daemon) routes() {
	d.api.HandleFunc("GET /v1/status", apiserver.RoleViewer, d.handleStatus)
	d.api.SetReadiness(d.ready)
	d.routeRoutes()
	d.linkRoutes()
	d.controllerRoutes()
	d.failoverRoutes()
	d.drillRoutes()
	d.rebuildRoutes()
	d.consoleRoutes()
	// Go's profiles, for an operator: where this regiond's CPU and memory
	// go (go tool pprof -http=: 'http://HOST/debug/pprof/profile?seconds=20'
	// with the token in an Authorization header; docs/BENCHMARKS.md).
	d.api.HandleFunc("GET /debug/pprof/", apiserver.RoleOperator, pprof.Index)
	d.api.HandleFunc("GET /debug/pprof/profile", apiserver.RoleOperator, pprof.Profile)
	d.api.HandleFunc("GET /debug/pprof/trace", apiserver.RoleOperator, pprof.Trace)
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	checks := d.health.results()
	st := api.Status{Deployment: d.cfg.Deployment.Name, Region: d.region.Name, Version: Version,
		Started: d.started.UTC(), Uptime: time.Since(d.started).Seconds(), Healthy: true, Checks: checks}
	for _, c := range checks {
		st.Healthy = st.Healthy && c.OK
	}
	for _, c := range d.cfg.Deployment.Cells {
		if c.Region == d.region.Name || c.Standby == d.region.Name {
			st.Cells = append(st.Cells, api.CellStatus{Name: c.Name, Region: c.Region, Standby: c.Standby})
		}
	}
	st.Capture = d.repl.capture.Stats()
	st.Links = d.repl.linkStatus(r.Context())
	st.Verify = d.verifier.lastPass()
	st.MySQLReadOnly, _ = d.readOnly.Load().(string)
	if d.gateway != nil {
		rs := d.gateway.ReadStats()
		st.Reads = &rs
	}
	apiserver.WriteJSON(w, http.StatusOK, st)
}
