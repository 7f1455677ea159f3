package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

func TestRoutesByHeaderCookieQuery(t *testing.T) {
	f := start(t, nil, nil, false)
	inA, inB := keyIn(0, 7), keyIn(8, 15)
	for _, tc := range []struct {
		name   string
		target string
		header map[string]string
		want   *upstream
		key    string
	}{
		{"header", "/loans", map[string]string{"X-User-Id": inB}, f.b, inB},
		{"cookie", "/loans", map[string]string{"Cookie": "theme=dark; uid=" + inA + "; x=1"}, f.a, inA},
		{"query", "/loans?page=2&user=" + inB, nil, f.b, inB},
		{"header before cookie and query", "/loans?user=" + inB, map[string]string{"X-User-Id": inA, "Cookie": "uid=" + inB}, f.a, inA},
		{"cookie before query", "/loans?user=" + inA, map[string]string{"Cookie": "uid=" + inB}, f.b, inB},
		{"spoofed routing headers replaced", "/loans", map[string]string{"X-User-Id": inA, HeaderCell: "b1", HeaderEpoch: "999"}, f.a, inA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.want.requests())
			resp, body := f.do(t, "GET", tc.target, tc.header, "")
			if resp.StatusCode != 200 || body != tc.want.name {
				t.Fatalf("got %d %q, want 200 from %s", resp.StatusCode, body, tc.want.name)
			}
			got := tc.want.requests()[before:]
			if len(got) != 1 {
				t.Fatalf("%s received %d requests, want 1", tc.want.name, len(got))
			}
			rt, _ := f.router.Route(tc.key)
			h := got[0].Header
			if h.Get(HeaderBucket) != itoa(int(rt.Bucket)) || h.Get(HeaderCell) != rt.Cell || h.Get(HeaderEpoch) != "1" || len(h.Values(HeaderCell)) != 1 {
				t.Fatalf("routing headers %v %v %v, want bucket %d cell %s epoch 1", h.Values(HeaderBucket), h.Values(HeaderCell), h.Values(HeaderEpoch), rt.Bucket, rt.Cell)
			}
			if got[0].Path != "/loans" {
				t.Fatalf("path %q, want /loans", got[0].Path)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMissingKey(t *testing.T) {
	t.Run("400 naming where the key is expected", func(t *testing.T) {
		f := start(t, nil, nil, false)
		resp, body := f.do(t, "POST", "/loans", nil, "{}")
		p := decode[Problem](t, body)
		if resp.StatusCode != 400 || p.Header != "X-User-Id" || p.Cookie != "uid" || p.Query != "user" ||
			!strings.Contains(p.Error, "header X-User-Id, cookie uid or query parameter user") {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		if n := len(f.a.requests()) + len(f.b.requests()); n != 0 {
			t.Fatalf("applications received %d requests", n)
		}
	})
	t.Run("to the default region", func(t *testing.T) {
		f := start(t, func(c *Config) { c.DefaultRegion = "b" }, nil, false)
		resp, body := f.do(t, "POST", "/signup", map[string]string{HeaderBucket: "3"}, "{}")
		if resp.StatusCode != 200 || body != "b" {
			t.Fatalf("got %d %q, want 200 from b", resp.StatusCode, body)
		}
		got := f.b.requests()
		if len(got) != 1 || got[0].Method != "POST" || got[0].Body != "{}" || got[0].Header.Get(HeaderBucket) != "" {
			t.Fatalf("b received %+v", got)
		}
	})
	t.Run("not past the default region's fence", func(t *testing.T) {
		f := start(t, func(c *Config) { c.DefaultRegion = "b" }, nil, false)
		f.update(t, "fence region b", func(tb *router.Table) error { return tb.FenceRegion("b", "forced failover") })
		resp, body := f.do(t, "POST", "/signup", nil, "{}")
		p := decode[Problem](t, body)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || p.Region != "b" ||
			!strings.Contains(p.Error, "region b is fenced (forced failover)") || !strings.Contains(p.Error, "X-User-Id") {
			t.Fatalf("keyless write to a fenced default region: got %d %s", resp.StatusCode, body)
		}
		if n := len(f.b.requests()); n != 0 {
			t.Fatalf("b received %d requests, want the write refused", n)
		}
		for name, c := range map[string]interface{ Write(*dto.Metric) error }{"refused_writes_total": f.gw.m.refused, "keyless_writes_total": f.gw.m.keyless} {
			var m dto.Metric
			if err := c.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
				t.Errorf("%s = %v, want 1", name, m.GetCounter().GetValue())
			}
		}
		if resp, body := f.do(t, "GET", "/rates", nil, ""); resp.StatusCode != 200 || body != "b" {
			t.Fatalf("keyless read with the default region fenced: got %d %q, want 200 from b", resp.StatusCode, body)
		}
	})
}

func TestFencedBucketRefusesWritesPassesReadsThenFlips(t *testing.T) {
	f := start(t, func(c *Config) { c.RetryAfter = 1500 * time.Millisecond }, nil, false)
	key := keyIn(0, 7)
	rt, _ := f.router.Route(key)
	epoch := f.update(t, "fence", func(tb *router.Table) error {
		return tb.Fence([]topo.Range{{First: rt.Bucket, Last: rt.Bucket}}, "s1")
	})

	resp, body := f.do(t, "POST", "/repayments", map[string]string{"X-User-Id": key}, `{"amount":10}`)
	ref := decode[Refusal](t, body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || ref.Bucket != int(rt.Bucket) || ref.Cell != "a1" ||
		ref.Epoch != epoch || ref.RetryAfterSeconds != 2 || !strings.Contains(ref.Error, "write-forbidden") {
		t.Fatalf("fenced POST: got %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := len(f.a.requests()); n != 0 {
		t.Fatalf("a received %d requests, want the write refused", n)
	}
	var m dto.Metric
	if err := f.gw.m.refused.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		got := m.GetCounter().GetValue()
		t.Fatalf("refused_writes_total %v, want 1", got)
	}
	other := keyIn(8, 15)
	if resp, body := f.do(t, "PUT", "/profile", map[string]string{"X-User-Id": other}, "x"); resp.StatusCode != 200 || body != "b" {
		t.Fatalf("write to an unfenced bucket: got %d %q", resp.StatusCode, body)
	}

	resp, body = f.do(t, "GET", "/repayments", map[string]string{"X-User-Id": key}, "")
	if resp.StatusCode != 200 || body != "a" {
		t.Fatalf("fenced GET: got %d %q, want 200 from a", resp.StatusCode, body)
	}

	epoch = f.update(t, "flip", func(tb *router.Table) error { return tb.Flip("s1", "b1") })
	resp, body = f.do(t, "POST", "/repayments", map[string]string{"X-User-Id": key}, `{"amount":10}`)
	if resp.StatusCode != 200 || body != "b" {
		t.Fatalf("POST after the flip: got %d %q, want 200 from b", resp.StatusCode, body)
	}
	last := f.b.requests()[len(f.b.requests())-1]
	if last.Body != `{"amount":10}` || last.Header.Get(HeaderCell) != "b1" || last.Header.Get(HeaderEpoch) != itoa(int(epoch)) {
		t.Fatalf("b received %+v", last)
	}
}

func TestNoTableYet(t *testing.T) {
	f := start(t, nil, nil, true)
	resp, body := f.do(t, "GET", "/", map[string]string{"X-User-Id": "7"}, "")
	p := decode[Problem](t, body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(p.Error, "routing table") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	f := start(t, nil, nil, false)
	dead := f.b.srv.URL
	f.b.srv.Close() // region b's application is down: its port refuses connections
	resp, body := f.do(t, "POST", "/loans", map[string]string{"X-User-Id": keyIn(8, 15)}, "{}")
	p := decode[Problem](t, body)
	if resp.StatusCode != 502 || p.Region != "b" || p.Upstream != dead || !strings.Contains(p.Error, "did not answer") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if n := f.inflight.Running(); n != 0 {
		t.Fatalf("%d writes still counted running after a 502", n)
	}
}

func TestSettleWaitsForOlderWritesInTheBucketsItChanges(t *testing.T) {
	release, arrived, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	settled := make(chan uint64, 16)
	writeDone := make(chan bool, 16) // at each Settle return: had the slow write finished?
	f := start(t, nil, func(next settleFunc) settleFunc {
		return func(ctx context.Context, epoch uint64, routes []router.Route) {
			next(ctx, epoch, routes)
			select {
			case <-finished:
				writeDone <- true
			default:
				writeDone <- false
			}
			settled <- epoch
		}
	}, false)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test must not leave the slow handler (and the servers' Close) hanging
	<-settled       // epoch 1, at start
	<-writeDone
	f.a.mu.Lock()
	f.a.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/slow" {
			return false
		}
		close(arrived)
		<-release
		close(finished)
		_, _ = w.Write([]byte("slow done"))
		return true
	}
	f.a.mu.Unlock()
	key := keyIn(0, 7)
	bucket := int(topo.BucketOfString(key, 16))
	result := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("POST", f.front.URL+"/slow", strings.NewReader("{}"))
		req.Header.Set("X-User-Id", key)
		resp, err := f.front.Client().Do(req)
		if err != nil {
			result <- err.Error()
			return
		}
		defer resp.Body.Close()
		result <- resp.Status
	}()
	<-arrived
	if n := f.inflight.Running(); n != 1 {
		t.Fatalf("running writes %d, want 1", n)
	}
	// Fence another bucket: epoch 2. The slow write's route is the same
	// in it, so Settle does not wait for it.
	other := f.update(t, "fence", func(tb *router.Table) error {
		return tb.Fence([]topo.Range{{First: 15, Last: 15}}, "s2")
	})
	select {
	case e := <-settled:
		if e != other || <-writeDone {
			t.Fatalf("Settle(%d) returned, the slow write done: want Settle(%d) while it runs", e, other)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Settle(%d) waited for a write in bucket %d, which epoch %d routes as before", other, bucket, other)
	}
	// A new write in the slow write's bucket is admitted under epoch 2.
	if resp, body := f.do(t, "POST", "/fast", map[string]string{"X-User-Id": key}, "{}"); resp.StatusCode != 200 || body != "a" {
		t.Fatalf("write under epoch 2: got %d %q", resp.StatusCode, body)
	}
	// Fence the slow write's bucket: epoch 3. The router serves it at
	// once, but its Settle must wait for the write admitted under epoch 1.
	epoch := f.update(t, "fence", func(tb *router.Table) error {
		return tb.Fence([]topo.Range{{First: topo.Bucket(bucket), Last: topo.Bucket(bucket)}}, "s3")
	})
	// Give a Settle that does not wait the time to show it (a correct one
	// blocks here whatever the wait; the test does not depend on it).
	select {
	case e := <-settled:
		t.Fatalf("Settle(%d) returned while a write admitted under epoch 1 in bucket %d was running", e, bucket)
	case <-time.After(300 * time.Millisecond):
	}
	// The inflight_writes gauge reads Running while Settle waits.
	running := make(chan int64, 1)
	go func() { running <- f.inflight.Running() }()
	select {
	case n := <-running:
		if n < 1 {
			t.Fatalf("running writes %d while the slow write runs, want at least 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Running blocked while Settle waits")
	}
	free()
	select {
	case e := <-settled:
		if e != epoch || !<-writeDone {
			t.Fatalf("Settle(%d) returned before the slow write ended", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Settle did not return after the slow write ended")
	}
	if got := <-result; got != "200 OK" {
		t.Fatalf("slow write: %s", got)
	}
	if f.inflight.Timeouts() != 0 {
		t.Fatal("Settle timed out")
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	ok := func() Config {
		c := DefaultConfig()
		c.Router = &router.Router{}
		c.Endpoints = map[string]string{"a": "http://127.0.0.1:1"}
		return c
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		want string
		edit func(*Config)
	}{
		{"Config.Router", func(c *Config) { c.Router = nil }},
		{"Config.UserHeader, UserCookie and UserQuery", func(c *Config) { c.UserHeader = "" }},
		{"Config.UserHeader \"X User\"", func(c *Config) { c.UserHeader = "X User" }},
		{"Config.UserCookie", func(c *Config) { c.UserCookie = "a;b" }},
		{"Config.UserQuery", func(c *Config) { c.UserQuery = "a&b" }},
		{"Config.RetryAfter", func(c *Config) { c.RetryAfter = -time.Second }},
		{"Config.Listen", func(c *Config) { c.Listen = "8080" }},
		{"Config.Endpoints is empty", func(c *Config) { c.Endpoints = nil }},
		{`Config.Endpoints["b"]`, func(c *Config) { c.Endpoints["b"] = "10.0.0.9:8080" }},
		{"Config.DefaultRegion \"c\"", func(c *Config) { c.DefaultRegion = "c" }},
	} {
		c := ok()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
		if _, nerr := New(c); nerr == nil {
			t.Errorf("%s: New accepted the config", tc.want)
		}
	}
}

func TestRoutingStepDoesNotAllocate(t *testing.T) {
	f := start(t, nil, nil, false)
	for _, req := range []*http.Request{
		newReq(map[string]string{"X-User-Id": "123456"}, "/"),
		newReq(map[string]string{"Cookie": "a=b; uid=123456"}, "/"),
		newReq(nil, "/x?y=1&user=123456"),
	} {
		n := testing.AllocsPerRun(1000, func() {
			gen := f.gw.inflight.Enter()
			rt, ok := f.router.Route(f.gw.userKey(req))
			if !ok {
				t.Fatal("no route")
			}
			h := f.gw.headerVals(rt.Epoch)
			req.Header[HeaderBucket], req.Header[HeaderCell], req.Header[HeaderEpoch] = h.bucket(int(rt.Bucket)), h.cell(rt.Cell), h.epochVal
			_ = f.gw.proxies[rt.Endpoint]
			gen.Leave()
		})
		if n != 0 {
			t.Errorf("routing %v %s allocates %v times", req.Header, req.URL, n)
		}
	}
}

func newReq(h map[string]string, target string) *http.Request {
	r, _ := http.NewRequest("POST", "http://127.0.0.1"+target, nil)
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return r
}
