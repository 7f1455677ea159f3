package regiond_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/regiond"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// TestGatewayOnly runs regiond's --gateway-only mode against a real
// embedded etcd and two loopback applications: it routes, registers its
// router as kind "gateway", refuses writes to a fenced bucket once its
// router has applied the fence, and stops cleanly.
func TestGatewayOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := lab.StartEtcd(ctx, lab.EtcdConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	apps := map[string]*httptest.Server{}
	for _, name := range []string{"a", "b"} {
		apps[name] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.Header.Get("X-Region-Cell"))
		}))
		defer apps[name].Close()
	}
	port, err := lab.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	gw := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := &config.Config{Buckets: 16,
		Etcd:    config.Etcd{Endpoints: []string{e.ClientURL}, Prefix: "/gw/", DialTimeout: 5 * time.Second},
		Regions: []config.Region{{Name: "a", App: apps["a"].URL, GatewayListen: gw}, {Name: "b", App: apps["b"].URL}},
		Cells:   []config.Cell{{Name: "a1", Region: "a", Standby: "b"}, {Name: "b1", Region: "b", Standby: "a"}},
		Router:  config.Router{UserHeader: "X-User-Id", RetryAfter: time.Second}}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	store := router.NewStore(c, "/gw/")
	if _, err := store.Init(ctx, router.Initial(cfg, time.Now())); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- regiond.RunGateway(ctx, regiond.GatewayConfig{Deployment: cfg, Region: "a", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()

	var inB string // a user whose bucket (8-15) lives in cell b1
	for i := 0; inB == ""; i++ {
		if k := fmt.Sprint(i); topo.BucketOfString(k, 16) >= 8 {
			inB = k
		}
	}
	send := func(method string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+gw+"/loans", strings.NewReader("{}"))
		req.Header.Set("X-User-Id", inB)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}
	waitFor("the gateway routes", func() bool { code, _ := send("GET"); return code == 200 })
	if code, body := send("POST"); code != 200 || body != "b b1" {
		t.Fatalf("POST: %d %q, want 200 from b via cell b1", code, body)
	}
	applied := func(epoch uint64) func() bool {
		return func() bool {
			rs, err := store.Routers(ctx)
			return err == nil && len(rs) == 1 && rs[0].Kind == "gateway" && rs[0].Region == "a" && rs[0].Epoch >= epoch
		}
	}
	waitFor("the gateway's router registered at epoch 1", applied(1))

	next, err := store.Update(ctx, router.Change{Kind: "fence", Actor: "test", Reason: "gateway-only"}, func(tb *router.Table) error {
		return tb.Fence([]topo.Range{{First: 8, Last: 15}}, "s1")
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the gateway's router applied the fence", applied(next.Epoch))
	if code, body := send("POST"); code != 503 || !strings.Contains(body, "write-forbidden") {
		t.Fatalf("POST to a fenced bucket after its router applied the fence: %d %q, want 503", code, body)
	}
	if code, body := send("GET"); code != 200 || body != "b b1" {
		t.Fatalf("GET of a fenced bucket: %d %q, want 200 from b", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunGateway: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("RunGateway did not return after its context ended")
	}
}
