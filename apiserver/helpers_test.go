package apiserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Secrets of the test tokens. Tests grep logs and the audit log for them.
const (
	opSecret     = "op-3f9a1c7e5b2d4f6a8c0e"
	viewerSecret = "viewer-7d2b9e4a1f6c3b8d5e0a"
)

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.AuditPath = filepath.Join(t.TempDir(), "data", "sub", "audit.log")
	cfg.Tokens = []Token{
		{Name: "alice", Role: RoleOperator, Secret: opSecret},
		{Name: "dash", Role: RoleViewer, Secret: viewerSecret},
	}
	return cfg
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// harness is a Server running on loopback.
type harness struct {
	srv    *Server
	cfg    Config
	url    string
	logs   *syncBuffer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error

	once   sync.Once
	runErr error
}

// start runs a server with the test tokens and two routes:
// GET /v1/read (viewer) and POST /v1/change (operator). mutate may change
// the config, routes add more.
func start(t *testing.T, mutate func(*Config), routes func(*Server)) *harness {
	t.Helper()
	cfg := testConfig(t)
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{cfg: cfg, logs: &syncBuffer{}, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, logger, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = s
	s.HandleFunc("GET /v1/read", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
		id, ok := Caller(r.Context())
		if !ok {
			WriteError(w, 500, "no caller", "")
			return
		}
		WriteJSON(w, 200, map[string]string{"caller": id.Name, "role": string(id.Role)})
	})
	s.HandleFunc("POST /v1/change", RoleOperator, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			WriteError(w, http.StatusRequestEntityTooLarge, err.Error(), "")
			return
		}
		WriteJSON(w, 200, "changed")
	})
	if routes != nil {
		routes(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- s.Run(ctx) }()
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	addr, err := s.Addr(actx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	h.url = scheme + "://" + addr.String()
	t.Cleanup(func() {
		if err := h.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// stop cancels Run's context and returns what Run returned; calls after
// the first return the same.
func (h *harness) stop(t *testing.T) error {
	t.Helper()
	h.once.Do(func() {
		h.cancel()
		select {
		case h.runErr = <-h.done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return 20s after its context was cancelled")
		}
	})
	return h.runErr
}

type response struct {
	code   int
	body   string
	header http.Header
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// cookie presents a console session cookie with id (sessionOf opens one).
func cookie(id string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: id}) }
}

// sessionOf opens a console session of tok in h's server, as a login
// does, and returns its id.
func (h *harness) sessionOf(tok string) string { return h.srv.sessions.open(tok, time.Now()) }

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// send makes a request; it may be called from any goroutine.
func send(c *http.Client, method, url string, body io.Reader, opts ...reqOpt) (response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return response{}, err
	}
	for _, o := range opts {
		o(req)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), header: resp.Header}, err
}

// do is send for the test goroutine.
func do(t *testing.T, method, url string, opts ...reqOpt) response {
	t.Helper()
	r, err := send(nil, method, url, nil, opts...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// serverGoroutines returns the stacks of goroutines that belong to an
// http.Server or to this package's Server.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*Server).Serve") ||
			strings.Contains(g, "apiserver.(*Server)") {
			out = append(out, g)
		}
	}
	return out
}

// checkNoLeaks fails t unless, within a few seconds, no server goroutine
// is left and there are no more goroutines than before.
func checkNoLeaks(t *testing.T, before int) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := serverGoroutines()
		n := runtime.NumGoroutine()
		if len(left) == 0 && n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after Run returned; server goroutines left:\n%s\nall:\n%s",
				before, n, strings.Join(left, "\n\n"), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
