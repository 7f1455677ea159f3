package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/gateway"
)

// GatewayOptions configures GatewayOverhead.
type GatewayOptions struct {
	// Requests is how many writes go through each front (default 5000).
	Requests int
	// Logger receives warnings (default: discarded).
	Logger *slog.Logger
}

// GatewayReport is what GatewayOverhead measured, latencies in µs.
type GatewayReport struct {
	Time           time.Time `json:"time"`
	Requests       int       `json:"requests"`
	ProxyP50       float64   `json:"reverse_proxy_p50_us"`
	ProxyP99       float64   `json:"reverse_proxy_p99_us"`
	GatewayP50     float64   `json:"gateway_p50_us"`
	GatewayP99     float64   `json:"gateway_p99_us"`
	AddedP50       float64   `json:"added_p50_us"`
	AddedP99       float64   `json:"added_p99_us"`
	P99OverheadPct float64   `json:"p99_overhead_pct"`
	// TargetMet: the gateway's p99 is at most 10% above the proxy's.
	TargetMet bool `json:"target_met"`
}

// WriteText prints r for people.
func (r *GatewayReport) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, `gateway vs httputil.ReverseProxy, %d writes each, one at a time, alternating (%s)
                  p50 µs    p99 µs
reverse proxy   %8.1f  %8.1f
gateway         %8.1f  %8.1f
added           %8.1f  %8.1f
p99 overhead %.1f%% (target <= 10%%: %s)
`, r.Requests, r.Time.Format(time.RFC3339), r.ProxyP50, r.ProxyP99, r.GatewayP50, r.GatewayP99, r.AddedP50, r.AddedP99,
		r.P99OverheadPct, map[bool]string{true: "met", false: "not met"}[r.TargetMet])
	return err
}

// GatewayOverhead measures what the gateway adds to a request: it starts
// an embedded etcd with a routing table, a loopback application, a
// router and gateway in front of it, and a plain httputil.ReverseProxy to
// the same application, then sends the same write through each,
// alternating, and compares their latency percentiles.
func GatewayOverhead(ctx context.Context, o GatewayOptions) (*GatewayReport, error) {
	if o.Requests <= 0 {
		o.Requests = 5000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := os.MkdirTemp("", "region-bench-gateway-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	e, err := lab.StartEtcd(ctx, lab.EtcdConfig{Dir: dir})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer app.Close()
	dep := &config.Config{Buckets: 1024, Regions: []config.Region{{Name: "a", App: app.URL}},
		Cells: []config.Cell{{Name: "a1", Region: "a"}}, Router: config.Router{UserHeader: "X-User-Id", RetryAfter: time.Second}}
	store := router.NewStore(c, "/bench/")
	if _, err := store.Init(ctx, router.Initial(dep, time.Now())); err != nil {
		return nil, err
	}
	inflight := router.NewInflight(router.DefaultSettleBound, o.Logger)
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region, rc.Kind, rc.Logger = store, "bench-gateway", "a", "gateway", o.Logger
	rc.Endpoints, rc.Settle = map[string]string{"a": app.URL}, inflight.Settle
	rt, err := router.New(rc)
	if err != nil {
		return nil, err
	}
	gc, err := gateway.FromDeployment(dep, "a")
	if err != nil {
		return nil, err
	}
	gc.Router, gc.Inflight, gc.Logger = rt, inflight, o.Logger
	g, err := gateway.New(gc)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = rt.Run(rctx) }()
	defer wg.Wait()
	defer cancel()
	select {
	case <-rt.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	front := httptest.NewServer(g)
	defer front.Close()
	plain := httptest.NewServer(plainReverseProxy(app.URL))
	defer plain.Close()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	send := func(base string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/repayments", strings.NewReader(`{"amount":10}`))
		req.Header.Set("X-User-Id", "1042")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("%s answered %s", base, resp.Status)
		}
		return time.Since(start), nil
	}
	var gw, base []time.Duration
	for i := -200; i < o.Requests; i++ { // the first 200 pairs warm both up
		order := []string{plain.URL, front.URL}
		if i%2 != 0 {
			order = []string{front.URL, plain.URL}
		}
		for _, u := range order {
			d, err := send(u)
			if err != nil {
				return nil, err
			}
			if i < 0 {
				continue
			}
			if u == front.URL {
				gw = append(gw, d)
			} else {
				base = append(base, d)
			}
		}
	}
	slices.Sort(gw)
	slices.Sort(base)
	p := func(d []time.Duration, q float64) float64 {
		return float64(d[min(len(d)-1, int(float64(len(d))*q))]) / float64(time.Microsecond)
	}
	r := &GatewayReport{Time: time.Now().UTC(), Requests: o.Requests,
		ProxyP50: p(base, .5), ProxyP99: p(base, .99), GatewayP50: p(gw, .5), GatewayP99: p(gw, .99)}
	r.AddedP50, r.AddedP99 = r.GatewayP50-r.ProxyP50, r.GatewayP99-r.ProxyP99
	r.P99OverheadPct = 100 * (r.GatewayP99/r.ProxyP99 - 1)
	r.TargetMet = r.P99OverheadPct <= 10
	return r, nil
}

// plainReverseProxy is the baseline: the same rewrite and transport
// settings as the gateway, no routing.
func plainReverseProxy(target string) http.Handler {
	u, _ := url.Parse(target)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
	return &httputil.ReverseProxy{Transport: t, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
	}}
}
