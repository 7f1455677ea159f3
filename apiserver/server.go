package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is regiond's HTTP API. Create it with New, add routes with
// Handle, then call Run once.
type Server struct {
	cfg     Config // Tokens cleared: only creds keeps them, as digests
	log     *slog.Logger
	creds   []credential
	tlsCert *tls.Certificate // nil without TLS
	audit   *auditLog
	metrics *metrics
	root    *http.ServeMux // /healthz, /metrics, and "/" through the auth middleware
	mux     *http.ServeMux // the token-protected routes
	public  *http.ServeMux // routes that need no token (HandlePublic)
	csrf    *http.CrossOriginProtection
	// sessions are the console's logins (session.go).
	sessions sessions

	started   atomic.Bool
	readiness func() error  // GET /readyz's check (nil: ready once serving)
	ready     chan struct{} // closed once Run is listening
	stopped   chan struct{} // closed when Run returns
	addr      net.Addr      // set before ready is closed

	mu       sync.Mutex
	stopping bool                       // shutdown has begun
	active   map[*statusWriter]struct{} // requests in the auth middleware
}

// New validates cfg, loads the TLS key pair if any, opens the audit log
// (appending; created 0600 with parent directories 0700) and registers
// the server's collectors on reg, the daemon's own registry:
// regiond_api_requests_total{method,route,code},
// regiond_api_request_duration_seconds{route},
// regiond_api_auth_failures_total and
// regiond_api_audit_write_failures_total. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New("api: nil prometheus registry: pass the daemon's registry")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:     logger,
		creds:   credentials(cfg.Tokens),
		root:    http.NewServeMux(),
		mux:     http.NewServeMux(),
		public:  http.NewServeMux(),
		csrf:    http.NewCrossOriginProtection(),
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		active:  map[*statusWriter]struct{}{},
	}
	cfg.Tokens = nil
	s.cfg = cfg
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("api: load TLS certificate %s and key %s: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		s.tlsCert = &cert
	}
	var err error
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	if s.audit, err = openAudit(cfg.AuditPath); err != nil {
		s.metrics.unregister(reg)
		return nil, err
	}
	if st, err := s.audit.f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		logger.Warn("audit log is readable by others: chmod 600 it", "path", cfg.AuditPath, "mode", st.Mode().Perm().String())
	}

	s.root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.root.HandleFunc("GET /readyz", s.serveReady)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		Registry: reg,
	})
	if cfg.MetricsNeedToken {
		metrics = s.tokenOnly(metrics)
	}
	s.root.Handle("GET /metrics", metrics)
	s.root.HandleFunc("/", s.serveProtected)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "see regionctl --help for what the API offers")
	})
	return s, nil
}

// Handle registers h for pattern, a net/http ServeMux pattern such as
// "GET /v1/status", for callers whose role is at least min (an operator
// may do what a viewer may). Callers with a weaker role get 403. Request
// bodies are limited to 1 MiB.
//
// Handle must be called before Run. It panics if min is not a role, if it
// is called after Run, or, as ServeMux does, if pattern is invalid or
// conflicts with another.
func (s *Server) Handle(pattern string, min Role, h http.Handler) {
	if min.rank() == 0 {
		panic(fmt.Sprintf("api: Handle %q: %q is not a role", pattern, min))
	}
	if s.started.Load() {
		panic(fmt.Sprintf("api: Handle %q called after Run", pattern))
	}
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := Caller(r.Context())
		if !id.Role.Allows(min) {
			s.metrics.authFailures.Inc()
			WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s; use an %s token", id.Role, r.Method, r.URL.Path, min), "")
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// SetReadiness sets the check behind GET /readyz: 200 "ready" when it
// returns nil, else 503 "not ready: " and its error. Like /healthz,
// /readyz needs no token and is not audited, so a load balancer or a
// start script may poll it; without a check it answers as /healthz.
// /healthz says the process serves, /readyz that it can answer its API.
// check may be called concurrently from many requests.
//
// SetReadiness must be called before Run; it panics if called after.
func (s *Server) SetReadiness(check func() error) {
	if s.started.Load() {
		panic("api: SetReadiness called after Run")
	}
	s.readiness = check
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.readiness != nil {
		if err := s.readiness(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

// HandleFunc is Handle for a handler function.
func (s *Server) HandleFunc(pattern string, min Role, h http.HandlerFunc) {
	s.Handle(pattern, min, h)
}

// Addr returns the address Run listens on, waiting until it listens, Run
// fails first, or ctx is done. With Listen "127.0.0.1:0" it tells the
// port picked.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.ready:
		return s.addr, nil
	case <-s.stopped:
		select {
		case <-s.ready:
			return s.addr, nil
		default:
			return nil, errors.New("api: the server stopped before it listened: see the error Run returned")
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("api: waiting for the listen address: %w", ctx.Err())
	}
}

// tokenOnly serves h to a request carrying a valid token of any role,
// and answers 401 otherwise (not audited: a scrape every few seconds).
func (s *Server) tokenOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authenticate(r); !ok {
			s.metrics.authFailures.Inc()
			w.Header().Set("WWW-Authenticate", "Bearer")
			WriteError(w, http.StatusUnauthorized, "missing or invalid API token", "api.metrics_need_token is on: give Prometheus a viewer token (authorization: {credentials_file: ...})")
			return
		}
		h.ServeHTTP(w, r)
	})
}
