package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Run listens on cfg.Listen (HTTPS when a certificate is configured) and
// serves until ctx is done. Then it shuts down gracefully within
// cfg.ShutdownTimeout: it stops accepting connections and lets in-flight
// requests finish, while long-lived streams (responses that flushed, or
// of type text/event-stream, such as server-sent events) see their
// request context cancelled at once. Requests still running at half the
// timeout see theirs cancelled too, and those still running at its end
// are cut off. Run then closes the audit log.
//
// Run returns nil after a clean shutdown, the listen or serve error, or
// an error saying requests were cut off. It may be called only once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("api: Run called more than once")
	}
	defer close(s.stopped)
	defer func() {
		if err := s.audit.close(); err != nil {
			s.log.Error("closing the audit log failed", "err", err)
		}
	}()
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", s.cfg.Listen, err)
	}
	// Requests carry ctx's values but not its cancellation: shutdown
	// decides when each request's context ends.
	base, cancelAll := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAll()
	hs := s.httpServer(base)
	s.addr = l.Addr()
	close(s.ready)
	s.log.Info("API listening", "addr", s.addr.String(), "tls", hs.TLSConfig != nil)

	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(l, "", "") // the certificate is in hs.TLSConfig
		} else {
			errc <- hs.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		cancelAll()
		_ = hs.Close()
		s.waitIdle(time.Second)
		return fmt.Errorf("api: serve on %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	return s.shutdown(hs, errc, cancelAll)
}

// httpServer returns the http.Server Run uses. It has no ReadTimeout or
// WriteTimeout: either would end server-sent event streams (a read
// timeout cancels the request's context). Bodies are limited by the
// middleware instead, and only after the caller has authenticated.
func (s *Server) httpServer(base context.Context) *http.Server {
	hs := &http.Server{
		Handler:           s.root,
		ReadHeaderTimeout: 10 * time.Second, // also bounds the TLS handshake
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.tlsCert != nil {
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*s.tlsCert}, MinVersion: tls.VersionTLS12}
	}
	return hs
}

// shutdown stops hs as Run describes; errc delivers Serve's return.
func (s *Server) shutdown(hs *http.Server, errc <-chan error, cancelAll context.CancelFunc) error {
	timeout := s.cfg.ShutdownTimeout
	s.log.Info("API shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.endStreams()
	late := time.AfterFunc(timeout/2, cancelAll)
	defer late.Stop()
	err := hs.Shutdown(ctx)
	<-errc // http.ErrServerClosed, now that Shutdown has begun
	if err != nil {
		cancelAll()
		_ = hs.Close()
		// Give handlers whose context just ended a moment to return and
		// write their audit records before the log closes.
		s.waitIdle(time.Second)
		return fmt.Errorf("api: shutdown: requests still running after %s were cut off: %w", timeout, err)
	}
	s.log.Info("API stopped")
	return nil
}

// endStreams marks the server as stopping and cancels the context of
// every streaming request; requests that start streaming later are
// cancelled when they do.
func (s *Server) endStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for w := range s.active {
		if w.stream {
			w.cancel()
		}
	}
}

// waitIdle waits up to d for the requests in the middleware to return.
func (s *Server) waitIdle(d time.Duration) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.active)
		s.mu.Unlock()
		if n == 0 {
			return
		}
	}
}
