package apiserver

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReadiness: /readyz answers 503 with the check's reason until the
// check passes, then 200; it needs no token and is not audited. Without
// a check it answers 200 as soon as the server serves.
func TestReadiness(t *testing.T) {
	var loaded atomic.Bool
	h := start(t, nil, func(s *Server) {
		s.SetReadiness(func() error {
			if !loaded.Load() {
				return errors.New("the routing table is not loaded yet")
			}
			return nil
		})
	})
	if r := do(t, "GET", h.url+"/readyz"); r.code != 503 || r.body != "not ready: the routing table is not loaded yet\n" {
		t.Errorf("before: %d %q", r.code, r.body)
	}
	loaded.Store(true)
	if r := do(t, "GET", h.url+"/readyz"); r.code != 200 || r.body != "ready\n" {
		t.Errorf("after: %d %q", r.code, r.body)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, rec := range readAudit(t, h.cfg.AuditPath) {
		if strings.Contains(rec.Action, "readyz") {
			t.Errorf("/readyz was audited: %+v", rec)
		}
	}

	plain := start(t, nil, nil)
	if r := do(t, "GET", plain.url+"/readyz"); r.code != 200 || r.body != "ready\n" {
		t.Errorf("without a check: %d %q", r.code, r.body)
	}
}
