package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// keyIn returns a user key whose bucket lies in [first, last].
func keyIn(first, last int) string {
	for i := 0; ; i++ {
		k := fmt.Sprint(1000 + i)
		if b := int(topo.BucketOfString(k, 16)); b >= first && b <= last {
			return k
		}
	}
}

// seen is one request an upstream received.
type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// upstream is a real HTTP application on 127.0.0.1 that records every
// request and answers 200 with its name, unless hook handles it.
type upstream struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	got  []seen
	hook func(w http.ResponseWriter, r *http.Request) bool
	// quiet answers without recording (benchmarks).
	quiet bool
}

func newUpstream(t testing.TB, name string) *upstream {
	u := &upstream{name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		if u.quiet {
			u.mu.Unlock()
			_, _ = io.WriteString(w, name)
			return
		}
		u.got = append(u.got, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
		hook := u.hook
		u.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.got...)
}

// fixture is a routing table in a real etcd, a router following it whose
// Settle is the gateway's, the gateway behind a real HTTP server, and
// the applications of regions a and b.
type fixture struct {
	store    *router.Store
	router   *router.Router
	gw       *Gateway
	front    *httptest.Server
	a, b     *upstream
	inflight *router.Inflight
}

// settleFunc is router.Config.Settle.
type settleFunc = func(ctx context.Context, epoch uint64, routes []router.Route)

// start builds the fixture; edit changes the gateway config, settle (if
// set) wraps the router's Settle; noTable leaves etcd without a table.
func start(t testing.TB, edit func(*Config), settle func(next settleFunc) settleFunc, noTable bool) *fixture {
	t.Helper()
	f := &fixture{a: newUpstream(t, "a"), b: newUpstream(t, "b")}
	ctx, cancel := context.WithCancel(context.Background())
	f.store = router.NewStore(labtest.Etcd(t), "/gw/")
	if !noTable {
		if _, err := f.store.Init(ctx, router.Initial(labtest.TwoCells(), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	endpoints := map[string]string{"a": f.a.srv.URL, "b": f.b.srv.URL}
	f.inflight = router.NewInflight(time.Minute, nil)
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region, rc.Kind, rc.Endpoints = f.store, "gateway-test", "a", "gateway", endpoints
	rc.Settle = f.inflight.Settle
	if settle != nil {
		rc.Settle = settle(f.inflight.Settle)
	}
	var err error
	if f.router, err = router.New(rc); err != nil {
		t.Fatal(err)
	}
	gc := DefaultConfig()
	gc.Router, gc.Inflight, gc.Endpoints = f.router, f.inflight, endpoints
	gc.UserHeader, gc.UserCookie, gc.UserQuery = "X-User-Id", "uid", "user"
	if edit != nil {
		edit(&gc)
	}
	if f.gw, err = New(gc); err != nil {
		t.Fatal(err)
	}
	f.front = httptest.NewServer(f.gw)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.router.Run(ctx) }()
	t.Cleanup(func() { f.front.Close(); cancel(); wg.Wait() })
	if !noTable {
		select {
		case <-f.router.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("router never loaded the table")
		}
	}
	return f
}

// do sends a request through the gateway and returns the answer and body.
func (f *fixture) do(t testing.TB, method, target string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.front.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// update changes the table in etcd and waits for the router to serve it.
func (f *fixture) update(t *testing.T, kind string, change func(*router.Table) error) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	next, err := f.store.Update(ctx, router.Change{Kind: kind, Actor: "test", Reason: t.Name()}, change)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.router.Wait(ctx, next.Epoch); err != nil {
		t.Fatal(err)
	}
	return next.Epoch
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	return v
}
