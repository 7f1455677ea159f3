package lab

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRegiond answers GET /readyz 503, as a regiond that has not read the
// routing table yet, until ready is set.
func fakeRegiond(t *testing.T, ready *atomic.Bool) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			http.Error(w, "not ready: the routing table is not loaded yet", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return p
}

// TestWaitRouting: Up's last step returns only once every regiond is
// ready, and gives up after its timeout saying which regiond and why.
func TestWaitRouting(t *testing.T) {
	var aReady, bReady atomic.Bool
	aReady.Store(true)
	self := Proc{Pid: os.Getpid()} // alive for as long as the test runs
	st := &State{Etcd: EtcdState{ClientPort: 2379}, Regions: []RegionState{
		{Name: "a", APIPort: fakeRegiond(t, &aReady), Regiond: self},
		{Name: "b", APIPort: fakeRegiond(t, &bReady), Regiond: self},
	}}
	r := &starter{st: st, out: io.Discard}

	time.AfterFunc(300*time.Millisecond, func() { bReady.Store(true) })
	t0 := time.Now()
	if err := r.waitRouting(context.Background(), 10*time.Second); err != nil {
		t.Fatalf("waitRouting: %v", err)
	}
	if took := time.Since(t0); took < 300*time.Millisecond {
		t.Errorf("waitRouting returned after %s, before regiond b was ready", took)
	}

	bReady.Store(false)
	err := r.waitRouting(context.Background(), 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "regiond b has not loaded the routing table within 200ms") ||
		!strings.Contains(err.Error(), "503 Service Unavailable: not ready: the routing table is not loaded yet") {
		t.Errorf("waitRouting with regiond b never ready: %v", err)
	}
}
