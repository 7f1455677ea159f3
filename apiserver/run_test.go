package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// activeRequests is how many requests are in the auth middleware.
func activeRequests(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestRunStopsPromptly(t *testing.T) {
	before := runtime.NumGoroutine()
	h := start(t, nil, nil)
	do(t, "GET", h.url+"/v1/read", bearer(viewerSecret)) // leaves a keep-alive connection
	t0 := time.Now()
	if err := h.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Run took %s to return after cancel", d)
	}
	checkNoLeaks(t, before)
}

// TestShutdownFinishesRequestsAndEndsStreams: during shutdown an
// in-flight request finishes with a live context, a server-sent event
// stream sees its context end at once, Run returns nil well before half
// the timeout, and no goroutine is left behind.
func TestShutdownFinishesRequestsAndEndsStreams(t *testing.T) {
	before := runtime.NumGoroutine()
	const timeout = 4 * time.Second
	streaming := make(chan struct{})
	slowCtx := make(chan error, 1)
	h := start(t, func(c *Config) { c.ShutdownTimeout = timeout }, func(s *Server) {
		s.HandleFunc("GET /v1/slow", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(300 * time.Millisecond)
			slowCtx <- r.Context().Err()
			WriteJSON(w, 200, "slow done")
		})
		s.HandleFunc("GET /v1/events", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: hello\n\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Error(err)
			}
			close(streaming)
			<-r.Context().Done()
		})
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	stream := make(chan error, 1)
	go func() {
		r, err := send(c, "GET", h.url+"/v1/events", nil, bearer(viewerSecret))
		if err == nil && r.body != "data: hello\n\n" {
			err = fmt.Errorf("stream body %q", r.body)
		}
		stream <- err
	}()
	<-streaming
	slow := make(chan response, 1)
	go func() {
		r, err := send(c, "GET", h.url+"/v1/slow", nil, bearer(viewerSecret))
		if err != nil {
			r.body = err.Error()
		}
		slow <- r
	}()
	waitFor(t, "the slow request to start", func() bool { return activeRequests(h.srv) == 2 })

	t0 := time.Now()
	if err := h.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(t0); d > timeout/2-500*time.Millisecond {
		t.Errorf("shutdown took %s: the stream held it up (timeout %s)", d, timeout)
	}
	if r := <-slow; r.code != 200 || !strings.Contains(r.body, "slow done") {
		t.Errorf("in-flight request: %d %q, want 200 slow done", r.code, r.body)
	}
	if err := <-slowCtx; err != nil {
		t.Errorf("the in-flight request's context ended during shutdown: %v", err)
	}
	select {
	case err := <-stream:
		if err != nil {
			t.Errorf("stream: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream's client never saw it end")
	}
	tr.CloseIdleConnections()
	checkNoLeaks(t, before)
}

// TestShutdownEndsWaitingRequests: a request that waits on its context
// without streaming (a long poll) sees it end at half the timeout, and
// shutdown is still clean.
func TestShutdownEndsWaitingRequests(t *testing.T) {
	// http.Server.Shutdown looks for idle connections at intervals that
	// grow to 500 ms: with a 1 s timeout, a request that ended at 0.5 s
	// was sometimes seen idle only after the timeout (a loaded CI run).
	const timeout = 3 * time.Second
	h := start(t, func(c *Config) { c.ShutdownTimeout = timeout }, func(s *Server) {
		s.HandleFunc("GET /v1/poll", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			WriteError(w, http.StatusServiceUnavailable, "shutting down", "")
		})
	})
	polled := make(chan response, 1)
	go func() { r, _ := send(nil, "GET", h.url+"/v1/poll", nil, bearer(viewerSecret)); polled <- r }()
	waitFor(t, "the poll to start", func() bool { return activeRequests(h.srv) == 1 })
	t0 := time.Now()
	if err := h.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(t0); d < timeout/2-50*time.Millisecond || d > timeout {
		t.Errorf("shutdown took %s, want about %s", d, timeout/2)
	}
	if r := <-polled; r.code != http.StatusServiceUnavailable {
		t.Errorf("poll: %d %q", r.code, r.body)
	}
}

// TestShutdownCutsOffStuckRequests: a handler that ignores its context
// does not hold Run past the timeout, and Run says what happened.
func TestShutdownCutsOffStuckRequests(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	returned := make(chan struct{})
	h := start(t, func(c *Config) { c.ShutdownTimeout = timeout }, func(s *Server) {
		s.HandleFunc("GET /v1/stuck", RoleViewer, func(w http.ResponseWriter, r *http.Request) {
			defer close(returned)
			<-release
		})
	})
	go func() { _, _ = send(nil, "GET", h.url+"/v1/stuck", nil, bearer(viewerSecret)) }()
	waitFor(t, "the stuck request to start", func() bool { return activeRequests(h.srv) == 1 })
	t0 := time.Now()
	err := h.stop(t)
	if d := time.Since(t0); d < timeout || d > timeout+2*time.Second {
		t.Errorf("Run returned %s after cancel, want after the %s timeout and soon after", d, timeout)
	}
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Run: %v, want an error saying requests were cut off", err)
	}
	close(release)
	<-returned
	h.runErr = nil // reported above; keep the cleanup quiet
}

func TestListenFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	cfg.Listen = l.Addr().String()
	s, err := New(cfg, nil, newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on "+cfg.Listen) {
		t.Errorf("Run on a used port: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Addr(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("Addr after a failed Run: %v (ctx %v); want an error at once", err, ctx.Err())
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM := selfSigned(t, dir)
	h := start(t, func(c *Config) {
		c.TLSCertFile, c.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}, nil)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("bad test certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	r, err := send(c, "GET", h.url+"/v1/read", nil, bearer(viewerSecret))
	if err != nil || r.code != 200 || !strings.Contains(r.body, "dash") {
		t.Errorf("TLS request: %d %q %v", r.code, r.body, err)
	}
	if _, err := send(nil, "GET", h.url+"/healthz", nil); err == nil {
		t.Error("a client that does not trust the certificate connected")
	}
	plain := "http://" + strings.TrimPrefix(h.url, "https://")
	if r, err := send(nil, "GET", plain+"/v1/read", nil, bearer(viewerSecret)); err == nil && r.code == 200 {
		t.Error("the TLS server answered plain HTTP")
	}
}

// selfSigned writes cert.pem and key.pem for 127.0.0.1 to dir and
// returns the certificate.
func selfSigned(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "regiond test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, b := range map[string][]byte{
		"cert.pem": certPEM,
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM
}
