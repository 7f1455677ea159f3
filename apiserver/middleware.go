package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes limits request bodies on token-protected routes.
const maxBodyBytes = 1 << 20

// maxAuditPath bounds how much of a request path the audit log keeps; an
// unauthenticated client chooses it.
const maxAuditPath = 512

// serveProtected is the middleware of every route but /healthz and
// /metrics: it authenticates, refuses cross-origin browser requests,
// routes, recovers panics, and records metrics and one audit record.
// Public routes (HandlePublic) are served without a token, and with the
// caller's identity when the request carries a valid one anyway.
func (s *Server) serveProtected(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sw := &statusWriter{ResponseWriter: w, srv: s, cancel: cancel}
	s.track(sw)
	defer s.untrack(sw)
	w.Header().Set("Cache-Control", "no-store")

	id, ok := s.authenticate(r)
	route := "unauthenticated"
	_, public := s.public.Handler(r)
	switch {
	case public != "":
		route = public
	case ok:
		if _, p := s.mux.Handler(r); p != "" && p != "/" {
			route = p
		} else {
			route = "other"
		}
	}
	if ok {
		ctx = context.WithValue(ctx, callerKey{}, id)
	}
	// A login handler names who logged in through this.
	login := &loginResult{}
	ctx = context.WithValue(ctx, loginKey{}, login)
	r = r.WithContext(ctx)
	// Deferred so that a request aborted by a panic is recorded too.
	defer func() {
		code := sw.result()
		s.metrics.requests.WithLabelValues(methodLabel(r.Method), route, code).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if login.ok {
			id, ok = login.id, true
		}
		actor := id.Name
		if !ok {
			actor = "anonymous"
		}
		s.log.Debug("API request", "actor", actor, "method", r.Method, "path", r.URL.Path, "result", code, "duration", time.Since(start))
		rec := AuditRecord{Actor: actor, Role: id.Role, Action: r.Method + " " + truncate(r.URL.Path, maxAuditPath), Result: code, Remote: r.RemoteAddr}
		read := (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(code, "2")
		if err := s.audit.write(rec, !read); err != nil {
			s.metrics.auditFailures.Inc()
			s.log.Error("audit log write failed", "err", err, "actor", actor, "action", rec.Action, "result", code)
		}
	}()

	if !ok && public == "" {
		s.metrics.authFailures.Inc()
		sw.Header().Set("WWW-Authenticate", "Bearer")
		sw.Header().Set("Connection", "close") // do not read the body of a stranger
		WriteError(sw, http.StatusUnauthorized, "missing or invalid API token",
			"send Authorization: Bearer <token>; the lab writes its operator token to DIR/token")
		return
	}
	// A browser sends the cookie along with requests other sites make it
	// send; refuse those (cross-site request forgery). Clients that are
	// not browsers send no Sec-Fetch-Site or Origin and pass.
	if err := s.csrf.Check(r); err != nil {
		s.metrics.authFailures.Inc()
		WriteError(sw, http.StatusForbidden, "cross-origin request refused", "use the console served by regiond, or a client that is not a browser")
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, maxBodyBytes)
	if public != "" {
		s.serve(sw, r, s.public)
		return
	}
	s.serve(sw, r, s.mux)
}

// serve runs the route. A panic becomes a 500 and an error log; if the
// response had begun, the connection is aborted so that the client does
// not take a truncated response for a whole one.
func (s *Server) serve(w *statusWriter, r *http.Request, mux *http.ServeMux) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			w.aborted = true
			panic(p)
		}
		s.log.Error("API handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if w.code != 0 {
			w.aborted = true
			panic(http.ErrAbortHandler)
		}
		WriteError(w, http.StatusInternalServerError, "internal error", "see the regiond log")
	}()
	mux.ServeHTTP(w, r)
}

func (s *Server) track(w *statusWriter) {
	s.mu.Lock()
	s.active[w] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) untrack(w *statusWriter) {
	s.mu.Lock()
	delete(s.active, w)
	s.mu.Unlock()
}

// markStream records that w is a long-lived stream, ending it at once if
// shutdown has begun.
func (s *Server) markStream(w *statusWriter) {
	s.mu.Lock()
	w.stream = true
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		w.cancel()
	}
}

// statusWriter records the status of a response and notices streams.
type statusWriter struct {
	http.ResponseWriter
	srv     *Server
	cancel  context.CancelFunc // ends the request's context
	code    int                // first final status written; 0 before
	aborted bool               // the handler panicked after responding
	stream  bool               // guarded by srv.mu
}

// result is the audit and metrics result of the request.
func (w *statusWriter) result() string {
	switch {
	case w.aborted:
		return "aborted"
	case w.code == 0:
		return "200" // net/http's answer to a handler that wrote nothing
	}
	return strconv.Itoa(w.code)
}

// WriteHeader records code and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
		if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
			w.srv.markStream(w)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the body, and the header first if need be.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// FlushError sends what is buffered to the client and marks the response
// as a stream, which shutdown ends at once.
func (w *statusWriter) FlushError() error {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.srv.markStream(w)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for http.Flusher.
func (w *statusWriter) Flush() { _ = w.FlushError() }

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
