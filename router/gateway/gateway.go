package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/router"
)

// Headers the gateway adds to every request it routes by user key. The
// values a client sends under these names are replaced or removed.
const (
	HeaderBucket = "X-Region-Bucket"
	HeaderCell   = "X-Region-Cell"
	HeaderEpoch  = "X-Region-Epoch"
)

// Gateway is the routing reverse proxy: it finds a request's user key,
// asks the router for the user's route and proxies the request to the
// application of the route's region. Writes to a write-forbidden bucket
// are refused 503 with Retry-After. ServeHTTP may be called from any
// number of goroutines; Run serves it on Config.Listen.
type Gateway struct {
	cfg        Config
	log        *slog.Logger
	header     string // canonical form of cfg.UserHeader
	inflight   *router.Inflight
	proxies    map[string]*httputil.ReverseProxy // by application URL
	defaultApp *httputil.ReverseProxy            // DefaultRegion's, or nil
	retryAfter []string                          // Retry-After value
	retrySecs  int
	m          *metrics
	hdr        atomic.Pointer[headerVals]
	// reads counts reads by level and where served, waits and waitNanos
	// the session reads' waits (ReadStats).
	reads            [4][2]atomic.Uint64
	waits, waitNanos atomic.Uint64
}

// New checks cfg and builds a gateway. It registers its metrics with
// cfg.Registerer.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Inflight == nil {
		cfg.Inflight = router.NewInflight(router.DefaultSettleBound, cfg.Logger)
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
		cfg.Transport = t
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger.With("component", "gateway"), inflight: cfg.Inflight,
		proxies: make(map[string]*httputil.ReverseProxy, len(cfg.Endpoints)), retrySecs: cfg.retryAfterSeconds()}
	if cfg.UserHeader != "" {
		g.header = textproto.CanonicalMIMEHeaderKey(cfg.UserHeader)
	}
	g.retryAfter = []string{strconv.Itoa(g.retrySecs)}
	g.m = newMetrics(g.inflight)
	if err := g.m.register(cfg.Registerer); err != nil {
		return nil, err
	}
	for region, app := range cfg.Endpoints {
		if _, ok := g.proxies[app]; ok {
			continue
		}
		u, _ := url.Parse(app) // checked by Validate
		g.proxies[app] = g.newProxy(region, u)
	}
	if cfg.DefaultRegion != "" {
		g.defaultApp = g.proxies[cfg.Endpoints[cfg.DefaultRegion]]
	}
	return g, nil
}

// Settle returns once every write this gateway admitted under an epoch
// older than epoch, in a bucket routes sends elsewhere or forbids, has
// finished (bounded; see Inflight.Settle). Pass it as
// router.Config.Settle of the gateway's router.
func (g *Gateway) Settle(ctx context.Context, epoch uint64, routes []router.Route) {
	g.inflight.Settle(ctx, epoch, routes)
}

func (g *Gateway) newProxy(region string, target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: g.cfg.Transport,
		ModifyResponse: func(resp *http.Response) error {
			g.m.count(resp.StatusCode)
			// The session token of a write: the region that committed it
			// and its GTID, which the application reported.
			if gtid := resp.Header.Get(HeaderGTID); gtid != "" && isWrite(resp.Request.Method) {
				resp.Header.Set(HeaderSession, region+":"+gtid)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil { // not a client that went away
				g.log.Warn("application unreachable", "region", region, "app", target.String(), "method", r.Method, "path", r.URL.Path, "err", err)
			}
			g.writeJSON(w, http.StatusBadGateway, false, Problem{
				Error:  fmt.Sprintf("the application of region %s at %s did not answer: %v; a write may or may not have been applied, so retry only idempotent requests", region, target, err),
				Region: region, Upstream: target.String(),
			})
		},
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// readServed are the values of HeaderRead, by where a read was served.
var readServed = [2][]string{{"local"}, {"owner"}}

// isWrite reports whether a request with method may change data: any
// method but GET, HEAD and OPTIONS.
func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// ServeHTTP routes and proxies one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	key := g.userKey(r)
	write := isWrite(r.Method)
	var gen router.Write
	if write {
		// Enter before the lookup: see Inflight for why the order matters.
		gen = g.inflight.Enter()
		defer gen.Leave()
		if len(g.cfg.GlobalWrites) > 0 {
			if table := g.globalTable(r); table != "" && g.serveGlobal(w, r, table, key, start) {
				return
			}
		}
	}
	if key == "" {
		g.serveKeyless(w, r, start)
		return
	}
	rt := g.cfg.Router.Lookup(key)
	if rt == nil {
		g.writeJSON(w, http.StatusServiceUnavailable, true, Problem{
			Error: "the gateway has not loaded the routing table yet: retry shortly; if this lasts, check that regiond reaches etcd"})
		return
	}
	if write {
		gen.Route(rt.Bucket)
	}
	if write && rt.WriteForbidden {
		g.m.refused.Inc()
		g.writeJSON(w, http.StatusServiceUnavailable, true, Refusal{
			Error:  fmt.Sprintf("bucket %d is write-forbidden: a traffic switch is moving it; retry after %ds", rt.Bucket, g.retrySecs),
			Bucket: int(rt.Bucket), Cell: rt.Cell, Epoch: rt.Epoch, RetryAfterSeconds: g.retrySecs})
		return
	}
	endpoint := rt.Endpoint
	if !write && g.cfg.Region != "" {
		lv, err := g.readLevel(r)
		if err != nil {
			g.writeJSON(w, http.StatusBadRequest, false, Problem{Error: err.Error()})
			return
		}
		served := 1
		if rt.Region == g.cfg.Region || lv.name != config.ReadStrong && g.servesLocally(r, lv, rt.Region) {
			served, endpoint = 0, g.cfg.Endpoints[g.cfg.Region]
		}
		g.countRead(lv, served)
		w.Header()[HeaderRead] = readServed[served]
	}
	p := g.proxies[endpoint]
	if p == nil {
		g.writeJSON(w, http.StatusBadGateway, false, Problem{
			Error:  fmt.Sprintf("region %s (cell %s) has no application URL known to the gateway: set regions[].app for it in the deployment config", rt.Region, rt.Cell),
			Region: rt.Region})
		return
	}
	h := g.headerVals(rt.Epoch)
	r.Header[HeaderBucket] = h.bucket(int(rt.Bucket))
	r.Header[HeaderCell] = h.cell(rt.Cell)
	r.Header[HeaderEpoch] = h.epochVal
	p.ServeHTTP(w, r)
	g.m.duration.Observe(time.Since(start).Seconds())
}

// serveKeyless sends a request without user key to the default region
// (a read whose level is not strong: to the gateway's own region),
// or answers 400 naming where the key is expected. A write goes there
// only while the routing table lets that region take writes (not fenced
// by a failover, the router not cut off from etcd); otherwise it is
// refused 503 like a write to a write-forbidden bucket, and counted.
func (g *Gateway) serveKeyless(w http.ResponseWriter, r *http.Request, start time.Time) {
	app := g.defaultApp
	if !isWrite(r.Method) && g.cfg.Region != "" {
		// A read whose level is not strong is served by the gateway's region.
		lv, err := g.readLevel(r)
		if err != nil {
			g.writeJSON(w, http.StatusBadRequest, false, Problem{Error: err.Error()})
			return
		}
		served := 1
		if lv.name != config.ReadStrong || g.cfg.DefaultRegion == g.cfg.Region {
			served, app = 0, g.proxies[g.cfg.Endpoints[g.cfg.Region]]
		}
		if app != nil {
			g.countRead(lv, served)
			w.Header()[HeaderRead] = readServed[served]
		}
	}
	if app == nil {
		g.writeJSON(w, http.StatusBadRequest, false, Problem{
			Error:  "the request carries no user key: send it in " + g.expected() + " (a read may also ask for " + HeaderConsistency + ": eventual to be served by this gateway's region)",
			Header: g.cfg.UserHeader, Cookie: g.cfg.UserCookie, Query: g.cfg.UserQuery})
		return
	}
	if isWrite(r.Method) {
		g.m.keyless.Inc()
		if ok, why := g.cfg.Router.RegionWritable(g.cfg.DefaultRegion); !ok {
			g.m.refused.Inc()
			g.writeJSON(w, http.StatusServiceUnavailable, true, Problem{
				Error:  fmt.Sprintf("a write without a user key goes to the default region %s, which takes no writes now: %s; retry after %ds, or send the user key in %s", g.cfg.DefaultRegion, why, g.retrySecs, g.expected()),
				Region: g.cfg.DefaultRegion})
			return
		}
	}
	delete(r.Header, HeaderBucket)
	delete(r.Header, HeaderCell)
	delete(r.Header, HeaderEpoch)
	app.ServeHTTP(w, r)
	g.m.duration.Observe(time.Since(start).Seconds())
}

// expected says in words where the user key is looked for.
func (g *Gateway) expected() string {
	var s []string
	if g.cfg.UserHeader != "" {
		s = append(s, "header "+g.cfg.UserHeader)
	}
	if g.cfg.UserCookie != "" {
		s = append(s, "cookie "+g.cfg.UserCookie)
	}
	if g.cfg.UserQuery != "" {
		s = append(s, "query parameter "+g.cfg.UserQuery)
	}
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " or " + s[1]
	}
	return s[0] + ", " + s[1] + " or " + s[2]
}

// Run serves the gateway on Config.Listen until ctx ends, then stops
// taking requests and waits (up to 10s) for running ones to finish.
func (g *Gateway) Run(ctx context.Context) error {
	if g.cfg.Listen == "" {
		return errors.New("gateway: Config.Listen is empty: set regions[].gateway_listen")
	}
	ln, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w (is another process on that port? change regions[].gateway_listen)", g.cfg.Listen, err)
	}
	return g.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened; it closes ln.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	g.log.Info("gateway serving", "listen", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		g.log.Warn("gateway stopped before every request finished", "err", err)
		_ = srv.Close()
	}
	<-errc
	return nil
}
