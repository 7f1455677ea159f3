package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// readAudit parses the audit log, failing on any line that is not one
// JSON object.
func readAudit(t *testing.T, path string) []AuditRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []AuditRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r AuditRecord
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || dec.More() {
			t.Fatalf("audit line %q is not one record: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestAuditLog(t *testing.T) {
	h := start(t, nil, nil)
	do(t, "GET", h.url+"/v1/read", bearer(opSecret))
	do(t, "POST", h.url+"/v1/change", bearer(viewerSecret))
	do(t, "GET", h.url+"/v1/read", bearer("guess-guess-guess-guess"))
	do(t, "GET", h.url+"/v1/read", cookie(h.sessionOf(viewerSecret)))
	do(t, "GET", h.url+"/healthz")
	do(t, "GET", h.url+"/metrics")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := h.srv.Audit(context.Background(), AuditRecord{Time: at, Action: "switch.start", Target: "cell-a", Result: "ok",
		Detail: map[string]string{"to": "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	got := readAudit(t, h.cfg.AuditPath)
	want := []AuditRecord{
		{Actor: "alice", Role: RoleOperator, Action: "GET /v1/read", Result: "200"},
		{Actor: "dash", Role: RoleViewer, Action: "POST /v1/change", Result: "403"},
		{Actor: "anonymous", Action: "GET /v1/read", Result: "401"},
		{Actor: "dash", Role: RoleViewer, Action: "GET /v1/read", Result: "200"},
		{Time: at, Actor: "system", Action: "switch.start", Target: "cell-a", Result: "ok", Detail: map[string]string{"to": "b"}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d audit records, want %d (/healthz and /metrics are not audited): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Time.IsZero() || time.Since(g.Time) > time.Minute && w.Time.IsZero() {
			t.Errorf("record %d time %v", i, g.Time)
		}
		if w.Time.IsZero() {
			if !strings.HasPrefix(g.Remote, "127.0.0.1:") {
				t.Errorf("record %d remote %q", i, g.Remote)
			}
			g.Time, g.Remote = time.Time{}, ""
		}
		if g.Actor != w.Actor || g.Role != w.Role || g.Action != w.Action || g.Result != w.Result || g.Target != w.Target ||
			!g.Time.Equal(w.Time) || len(g.Detail) != len(w.Detail) || g.Detail["to"] != w.Detail["to"] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], w)
		}
	}
	if err := h.srv.Audit(context.Background(), AuditRecord{Action: "late", Result: "ok"}); err == nil {
		t.Error("Audit after Run returned succeeded")
	}
	for path, mode := range map[string]os.FileMode{h.cfg.AuditPath: 0o600, filepath.Dir(h.cfg.AuditPath): 0o700} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, mode)
		}
	}
}

func TestAuditAppendsAndIsWholeLines(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(filepath.Dir(cfg.AuditPath), 0o700); err != nil {
		t.Fatal(err)
	}
	old := `{"time":"2025-01-01T00:00:00Z","actor":"system","action":"old","result":"ok"}` + "\n"
	if err := os.WriteFile(cfg.AuditPath, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, nil, newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for range each {
				rec := AuditRecord{Action: "concurrent", Result: "ok", Detail: map[string]string{"w": strings.Repeat("x", 200*i)}}
				if err := s.Audit(context.Background(), rec); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil { // closes the audit log
		t.Fatal(err)
	}
	recs := readAudit(t, cfg.AuditPath)
	if len(recs) != 1+writers*each || recs[0].Action != "old" {
		t.Fatalf("%d records (first %+v), want the old one and %d new", len(recs), recs[0], writers*each)
	}
	for _, r := range recs[1:] {
		if r.Actor != "system" || r.Time.IsZero() {
			t.Fatalf("record %+v: Audit did not default actor and time", r)
		}
	}
}

func TestNewFailures(t *testing.T) {
	reg := newRegistry()
	cfg := testConfig(t)
	if _, err := New(cfg, nil, reg); err != nil {
		t.Fatal(err)
	}
	cfg2 := testConfig(t)
	if _, err := New(cfg2, nil, reg); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second server on one registry: %v", err)
	}
	// The failed New must not have unregistered the first server's metrics.
	if _, err := newMetrics(reg); err == nil {
		t.Error("the first server's metrics were unregistered by the failed New")
	}
	if _, err := New(testConfig(t), nil, nil); err == nil {
		t.Error("New accepted a nil registry")
	}
	bad := testConfig(t)
	bad.Tokens = nil
	if _, err := New(bad, nil, newRegistry()); err == nil || !strings.Contains(err.Error(), "tokens is empty") {
		t.Errorf("New with no tokens: %v", err)
	}
	blocked := testConfig(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	blocked.AuditPath = filepath.Join(file, "audit.log") // parent is a file
	reg3 := newRegistry()
	if _, err := New(blocked, nil, reg3); err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Errorf("New with an unusable audit path: %v", err)
	}
	if _, err := newMetrics(reg3); err != nil {
		t.Errorf("a failed New left its metrics registered: %v", err)
	}
	tlsMissing := testConfig(t)
	tlsMissing.TLSCertFile, tlsMissing.TLSKeyFile = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	if _, err := New(tlsMissing, nil, newRegistry()); err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Errorf("New with missing TLS files: %v", err)
	}
}
