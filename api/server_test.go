package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	opSecret     = "operator-secret-0123456789"
	viewerSecret = "viewer-secret-0123456789"
)

type testServer struct {
	*Server
	url    string
	audit  string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, mutate func(*Config), routes func(*Server)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.AuditPath = filepath.Join(t.TempDir(), "sub", "audit.log")
	cfg.Tokens = []Token{{Name: "alice", Role: RoleOperator, Secret: opSecret}, {Name: "dash", Role: RoleViewer, Secret: viewerSecret}}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFunc("GET /v1/read", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
		id, _ := Caller(r.Context())
		WriteJSON(w, 200, map[string]string{"caller": id.Name})
	})
	s.HandleFunc("POST /v1/change", RoleOperator, func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, "changed") })
	if routes != nil {
		routes(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, audit: cfg.AuditPath, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Run(ctx) }()
	addr, err := s.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		scheme = "https"
	}
	ts.url = scheme + "://" + addr.String()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

func (ts *testServer) stop(t *testing.T) {
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		ts.done <- nil // later stops return at once
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func do(t *testing.T, c *http.Client, method, url, token string, cookie bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" && cookie {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuthAndRoles(t *testing.T) {
	ts := start(t, nil, nil)
	tests := []struct {
		name, method, path, token string
		cookie                    bool
		code                      int
		body                      string
	}{
		{"no token", "GET", "/v1/read", "", false, 401, "missing or invalid API token"},
		{"wrong token", "GET", "/v1/read", "nope-nope-nope-nope", false, 401, "Authorization: Bearer"},
		{"viewer reads", "GET", "/v1/read", viewerSecret, false, 200, `"caller": "dash"`},
		{"operator reads", "GET", "/v1/read", opSecret, false, 200, `"caller": "alice"`},
		{"viewer may not change", "POST", "/v1/change", viewerSecret, false, 403, "role viewer may not POST /v1/change"},
		{"operator changes", "POST", "/v1/change", opSecret, false, 200, "changed"},
		{"cookie", "GET", "/v1/read", viewerSecret, true, 200, `"caller": "dash"`},
		{"unknown route needs token first", "GET", "/v1/nothing", "", false, 401, "missing"},
		{"unknown route", "GET", "/v1/nothing", viewerSecret, false, 404, "no such endpoint"},
		{"healthz open", "GET", "/healthz", "", false, 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, nil, tt.method, ts.url+tt.path, tt.token, tt.cookie)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	code, body := do(t, nil, "GET", ts.url+"/metrics", "", false)
	if code != 200 || !strings.Contains(body, `regiond_api_requests_total{code="401",method="GET",route="unauthenticated"}`) ||
		!strings.Contains(body, `regiond_api_requests_total{code="200",method="GET",route="GET /v1/read"} 3`) ||
		!strings.Contains(body, "regiond_api_auth_failures_total 4") {
		t.Errorf("metrics missing request counters:\n%s", grep(body, "regiond_api"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestAuditLog(t *testing.T) {
	ts := start(t, nil, nil)
	do(t, nil, "GET", ts.url+"/v1/read", opSecret, false)
	do(t, nil, "POST", ts.url+"/v1/change", viewerSecret, false)
	do(t, nil, "GET", ts.url+"/v1/read", "guess-guess-guess", false)
	do(t, nil, "GET", ts.url+"/healthz", "", false)
	if err := ts.Audit(context.Background(), AuditRecord{Actor: "system", Action: "switch.start", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	ts.stop(t)
	b, err := os.ReadFile(ts.audit)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{opSecret, viewerSecret, "guess-guess-guess"} {
		if strings.Contains(string(b), s) {
			t.Errorf("audit log contains a token secret %q", s)
		}
	}
	var got []AuditRecord
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	want := []struct{ actor, action, result string }{
		{"alice", "GET /v1/read", "200"},
		{"dash", "POST /v1/change", "403"},
		{"anonymous", "GET /v1/read", "401"},
		{"system", "switch.start", "ok"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d audit records, want %d (healthz is not audited):\n%s", len(got), len(want), b)
	}
	for i, w := range want {
		if got[i].Actor != w.actor || got[i].Action != w.action || got[i].Result != w.result || got[i].Time.IsZero() {
			t.Errorf("record %d = %+v, want %+v", i, got[i], w)
		}
	}
	if st, _ := os.Stat(ts.audit); st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", st.Mode().Perm())
	}
}

// TestGracefulShutdown: an in-flight request finishes, a stream is ended,
// Run returns within the timeout, and no goroutine is left behind.
func TestGracefulShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	streamStarted := make(chan struct{})
	ts := start(t, func(c *Config) { c.ShutdownTimeout = 2 * time.Second }, func(s *Server) {
		s.HandleFunc("GET /v1/slow", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			WriteJSON(w, 200, "slow done")
		})
		s.HandleFunc("GET /v1/events", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(streamStarted)
			<-r.Context().Done()
		})
	})
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	go func() {
		req, _ := http.NewRequest("GET", ts.url+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+viewerSecret)
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-streamStarted
	slow := make(chan string, 1)
	go func() { _, body := do(t, c, "GET", ts.url+"/v1/slow", viewerSecret, false); slow <- body }()
	time.Sleep(50 * time.Millisecond) // let the slow request reach its handler
	t0 := time.Now()
	ts.stop(t)
	if d := time.Since(t0); d > 2500*time.Millisecond {
		t.Errorf("shutdown took %s, budget 2s", d)
	}
	if body := <-slow; !strings.Contains(body, "slow done") {
		t.Errorf("in-flight request did not finish: %q", body)
	}
	tr.CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after shutdown, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestPanicBecomes500(t *testing.T) {
	ts := start(t, nil, func(s *Server) {
		s.HandleFunc("GET /v1/boom", RoleViewer, func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	code, body := do(t, nil, "GET", ts.url+"/v1/boom", viewerSecret, false)
	if code != 500 || !strings.Contains(body, "internal error") {
		t.Errorf("panic: %d %q", code, body)
	}
	if code, _ := do(t, nil, "GET", ts.url+"/v1/read", viewerSecret, false); code != 200 {
		t.Errorf("server unusable after a panic: %d", code)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM := selfSigned(t, dir)
	ts := start(t, func(c *Config) {
		c.TLSCertFile, c.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}, nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, _ := do(t, c, "GET", ts.url+"/v1/read", viewerSecret, false); code != 200 {
		t.Errorf("TLS request: %d", code)
	}
	if _, err := http.Get(ts.url + "/healthz"); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}
}

func selfSigned(t *testing.T, dir string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "regiond"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certPEM
}

func TestConfigValidate(t *testing.T) {
	good := Config{Listen: "127.0.0.1:0", AuditPath: "/tmp/a", ShutdownTimeout: time.Second,
		Tokens: []Token{{Name: "a", Role: RoleOperator, Secret: opSecret}}}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no listen", func(c *Config) { c.Listen = "" }, "listen address is empty"},
		{"half tls", func(c *Config) { c.TLSCertFile = "c" }, "set both"},
		{"no audit", func(c *Config) { c.AuditPath = "" }, "audit log path"},
		{"no tokens", func(c *Config) { c.Tokens = nil }, "never runs open"},
		{"bad role", func(c *Config) { c.Tokens[0].Role = "admin" }, `role "admin" is not a role`},
		{"no name", func(c *Config) { c.Tokens[0].Name = "" }, "tokens[0].name is empty"},
		{"empty secret", func(c *Config) { c.Tokens[0].Secret = "" }, "tokens[0].secret is empty"},
		{"short secret", func(c *Config) { c.Tokens[0].Secret = "abc" }, "shorter than 16"},
		{"dup secret", func(c *Config) { c.Tokens = append(c.Tokens, Token{Name: "b", Role: RoleViewer, Secret: opSecret}) }, "same secret"},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			c.Tokens = append([]Token(nil), good.Tokens...)
			tt.mut(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want %q, got %v", tt.want, err)
			}
		})
	}
}
