package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is regiond's HTTP API.
type Server struct {
	cfg   Config
	log   *slog.Logger
	audit *auditLog
	mux   *http.ServeMux // authenticated routes
	root  *http.ServeMux // /healthz, /metrics, and everything else via auth
	ready chan struct{}
	addr  net.Addr

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures prometheus.Counter
}

// New validates cfg, opens the audit log and registers the server's
// metrics on reg. Routes are added with Handle before Run.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultConfig().ShutdownTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a, err := openAudit(cfg.AuditPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: logger, audit: a, mux: http.NewServeMux(), root: http.NewServeMux(), ready: make(chan struct{})}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "regiond", Subsystem: "api", Name: "requests_total",
		Help: "API requests by method, route and status code."}, []string{"method", "route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "regiond", Subsystem: "api", Name: "request_duration_seconds",
		Help: "API request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"})
	s.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "regiond", Subsystem: "api", Name: "auth_failures_total",
		Help: "Requests refused for a missing, wrong or too weak token."})
	if err := errors.Join(reg.Register(s.requests), reg.Register(s.duration), reg.Register(s.authFailures)); err != nil {
		a.close()
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	s.root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.root.Handle("/", s.authenticated())
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "see regionctl --help for what the API offers")
	})
	return s, nil
}

// Handle registers h for pattern (a net/http ServeMux pattern such as
// "GET /v1/status"), callable by min and stronger roles. Call it before Run.
func (s *Server) Handle(pattern string, min Role, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := Caller(r.Context())
		if !id.Role.Allows(min) {
			s.authFailures.Inc()
			WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s", id.Role, r.Method, r.URL.Path), "use a token with role "+string(min))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// HandleFunc is Handle for a function.
func (s *Server) HandleFunc(pattern string, min Role, h http.HandlerFunc) { s.Handle(pattern, min, h) }

// authenticated wraps the routes that need a token: it authenticates,
// measures, audits and recovers panics.
func (s *Server) authenticated() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		id, ok := s.authenticate(r)
		route := "unauthenticated"
		if !ok {
			s.authFailures.Inc()
			rw.Header().Set("WWW-Authenticate", `Bearer realm="regiond"`)
			WriteError(rw, http.StatusUnauthorized, "missing or invalid API token", "send Authorization: Bearer <token>; the lab writes its operator token to DIR/token")
		} else {
			_, route = s.mux.Handler(r)
			if route == "" || route == "/" {
				route = "other"
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
			s.serve(rw, r)
		}
		s.requests.WithLabelValues(r.Method, route, strconv.Itoa(rw.code)).Inc()
		s.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		actor := id.Name
		if !ok {
			actor = "anonymous"
		}
		if err := s.audit.write(AuditRecord{Actor: actor, Role: id.Role, Action: r.Method + " " + r.URL.Path,
			Result: strconv.Itoa(rw.code), Remote: r.RemoteAddr}); err != nil {
			s.log.Error("audit log write failed", "err", err)
		}
	})
}

// serve runs the route, turning a panic into a 500.
func (s *Server) serve(w *statusWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("API handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			if !w.wrote {
				WriteError(w, http.StatusInternalServerError, "internal error", "see the regiond log")
			}
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Run listens and serves until ctx ends, then stops accepting, lets
// in-flight requests finish within the shutdown timeout (streams see
// their request context end), closes the audit log and returns. It returns
// nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	defer s.audit.close()
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			l.Close()
			return fmt.Errorf("api TLS: %w", err)
		}
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.addr = l.Addr()
	close(s.ready)
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.root,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	// Long-lived streams wait on their request context: end them so that
	// Shutdown only waits for ordinary requests.
	go func() {
		select {
		case <-time.After(s.cfg.ShutdownTimeout / 2):
			cancelBase()
		case <-sctx.Done():
		}
	}()
	err = hs.Shutdown(sctx)
	if err != nil {
		_ = hs.Close()
		err = fmt.Errorf("api shutdown: %w", err)
	}
	<-errc
	return err
}

// Addr returns the address Run listens on, waiting until it does.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.ready:
		return s.addr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WriteJSON writes v as a JSON response with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the JSON body of every API error.
type ErrorBody struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

// WriteError writes an ErrorBody with status code.
func WriteError(w http.ResponseWriter, code int, msg, hint string) {
	WriteJSON(w, code, ErrorBody{Error: msg, Hint: hint})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets server-sent events through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
