package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchClient keeps connections to both fronts alive, as a load balancer
// in front of the gateway would.
func benchClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 64, 64
	return &http.Client{Transport: t}
}

// plainProxy is the baseline: httputil.ReverseProxy to one upstream, with
// the same rewrite and transport settings the gateway uses.
func plainProxy(target string) http.Handler {
	u, _ := url.Parse(target)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
	return &httputil.ReverseProxy{Transport: t, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.SetXForwarded()
	}}
}

func benchDo(b *testing.B, c *http.Client, front, key string) time.Duration {
	req, _ := http.NewRequest("POST", front+"/repayments", strings.NewReader(`{"amount":10}`))
	req.Header.Set("X-User-Id", key)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %s", front, resp.Status)
	}
	return d
}

func pct(d []time.Duration, p float64) time.Duration {
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkGatewayVsReverseProxy sends the same write through the gateway
// and through a plain httputil.ReverseProxy to the same loopback
// application, one after the other in one loop, so both see the same
// machine. It reports each one's p50 and p99 and what the gateway adds.
// The figures are measured, not asserted: see docs/BENCHMARKS.md.
func BenchmarkGatewayVsReverseProxy(b *testing.B) {
	f := startBench(b)
	plain := httptest.NewServer(plainProxy(f.a.srv.URL))
	defer plain.Close()
	c := benchClient()
	key := keyIn(0, 7)
	for range 200 { // warm both connection pools
		benchDo(b, c, plain.URL, key)
		benchDo(b, c, f.front.URL, key)
	}
	gw, base := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 { // alternate which goes first
			base = append(base, benchDo(b, c, plain.URL, key))
			gw = append(gw, benchDo(b, c, f.front.URL, key))
		} else {
			gw = append(gw, benchDo(b, c, f.front.URL, key))
			base = append(base, benchDo(b, c, plain.URL, key))
		}
	}
	b.StopTimer()
	slices.Sort(gw)
	slices.Sort(base)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(pct(base, .5)), "proxy-p50-µs")
	b.ReportMetric(us(pct(base, .99)), "proxy-p99-µs")
	b.ReportMetric(us(pct(gw, .5)), "gateway-p50-µs")
	b.ReportMetric(us(pct(gw, .99)), "gateway-p99-µs")
	b.ReportMetric(us(pct(gw, .5)-pct(base, .5)), "added-p50-µs")
	b.ReportMetric(us(pct(gw, .99)-pct(base, .99)), "added-p99-µs")
	b.ReportMetric(100*(float64(pct(gw, .99))/float64(pct(base, .99))-1), "p99-overhead-%")
}

// BenchmarkAllocs is one write through each front, for allocs/op (the
// client's and the upstream's allocations are in both).
func BenchmarkAllocs(b *testing.B) {
	f := startBench(b)
	plain := httptest.NewServer(plainProxy(f.a.srv.URL))
	defer plain.Close()
	key := keyIn(0, 7)
	for _, tc := range []struct{ name, url string }{{"reverseproxy", plain.URL}, {"gateway", f.front.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchClient()
			benchDo(b, c, tc.url, key)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchDo(b, c, tc.url, key)
			}
		})
	}
}

// startBench is the fixture with an application that answers without
// recording, so that memory stays flat over b.N requests.
func startBench(b *testing.B) *fixture {
	f := start(b, nil, nil, false)
	f.a.mu.Lock()
	f.a.quiet = true
	f.a.mu.Unlock()
	return f
}
