package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/regionplatform/region/api"
)

func TestAuthAndRoles(t *testing.T) {
	h := start(t, nil, nil)
	viewerSession, opSession := h.sessionOf(viewerSecret), h.sessionOf(opSecret)
	tests := []struct {
		name, method, path string
		opts               []reqOpt
		code               int
		body               string
	}{
		{"no token", "GET", "/v1/read", nil, 401, `"error": "missing or invalid API token"`},
		{"wrong token", "GET", "/v1/read", []reqOpt{bearer("wrong-token-0000000000")}, 401, "missing or invalid API token"},
		{"secret prefix", "GET", "/v1/read", []reqOpt{bearer(viewerSecret[:10])}, 401, "missing or invalid API token"},
		{"basic auth", "GET", "/v1/read", []reqOpt{header("Authorization", "Basic "+viewerSecret)}, 401, "missing"},
		{"viewer reads", "GET", "/v1/read", []reqOpt{bearer(viewerSecret)}, 200, `"caller": "dash"`},
		{"operator reads", "GET", "/v1/read", []reqOpt{bearer(opSecret)}, 200, `"caller": "alice"`},
		{"lower-case scheme", "GET", "/v1/read", []reqOpt{header("Authorization", "bearer "+viewerSecret)}, 200, `"caller": "dash"`},
		{"viewer may not change", "POST", "/v1/change", []reqOpt{bearer(viewerSecret)}, 403,
			`"error": "role viewer may not POST /v1/change; use an operator token"`},
		{"operator changes", "POST", "/v1/change", []reqOpt{bearer(opSecret)}, 200, "changed"},
		{"session cookie", "GET", "/v1/read", []reqOpt{cookie(viewerSession)}, 200, `"caller": "dash"`},
		{"session cookie operator changes", "POST", "/v1/change", []reqOpt{cookie(opSession)}, 200, "changed"},
		{"wrong cookie", "GET", "/v1/read", []reqOpt{cookie("wrong-cookie-000000000")}, 401, "missing"},
		{"a token as the cookie", "GET", "/v1/read", []reqOpt{cookie(viewerSecret)}, 401, "missing"},
		{"header wins over cookie", "GET", "/v1/read", []reqOpt{bearer("wrong-token-0000000000"), cookie(viewerSession)}, 401, "missing"},
		{"cross-site cookie post", "POST", "/v1/change", []reqOpt{cookie(opSession), header("Sec-Fetch-Site", "cross-site")}, 403, "cross-origin"},
		{"same-origin cookie post", "POST", "/v1/change", []reqOpt{cookie(opSession), header("Sec-Fetch-Site", "same-origin")}, 200, "changed"},
		{"unknown route needs a token first", "GET", "/v1/nothing", nil, 401, "missing"},
		{"unknown route", "GET", "/v1/nothing", []reqOpt{bearer(viewerSecret)}, 404, "no such endpoint: GET /v1/nothing"},
		{"wrong method", "DELETE", "/v1/read", []reqOpt{bearer(opSecret)}, 404, "no such endpoint"},
		{"only GET healthz is open", "POST", "/healthz", nil, 401, "missing"},
		{"odd method", "BREW", "/v1/read", nil, 401, "missing"},
		{"healthz", "GET", "/healthz", nil, 200, "ok\n"},
		{"metrics", "GET", "/metrics", nil, 200, "regiond_api_requests_total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, h.url+tt.path, tt.opts...)
			if r.code != tt.code || !strings.Contains(r.body, tt.body) {
				t.Errorf("%s %s: %d %q, want %d containing %q", tt.method, tt.path, r.code, r.body, tt.code, tt.body)
			}
			if tt.path == "/healthz" && r.code == 200 && r.body != "ok\n" {
				t.Errorf("healthz body %q, want %q", r.body, "ok\n")
			}
			if r.code == 401 {
				if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate %q, want Bearer", got)
				}
				var e api.ErrorBody
				if err := json.Unmarshal([]byte(r.body), &e); err != nil {
					t.Fatalf("401 body is not JSON: %v", err)
				}
				want := api.ErrorBody{Error: "missing or invalid API token", Hint: "send Authorization: Bearer <token>; the lab writes its operator token to DIR/token"}
				if e != want {
					t.Errorf("401 body %+v, want %+v", e, want)
				}
			}
			if r.code >= 400 && r.header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("error Content-Type %q", r.header.Get("Content-Type"))
			}
		})
	}

	m := do(t, "GET", h.url+"/metrics").body
	for _, want := range []string{
		`regiond_api_requests_total{code="401",method="GET",route="unauthenticated"} 8`,
		`regiond_api_requests_total{code="401",method="OTHER",route="unauthenticated"} 1`,
		`regiond_api_requests_total{code="200",method="GET",route="GET /v1/read"} 4`,
		`regiond_api_requests_total{code="403",method="POST",route="POST /v1/change"} 2`,
		`regiond_api_requests_total{code="404",method="GET",route="other"} 1`,
		`regiond_api_request_duration_seconds_count{route="GET /v1/read"} 4`,
		"regiond_api_auth_failures_total 12",
		"regiond_api_audit_write_failures_total 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s; have:\n%s", want, grep(m, "regiond_api"))
		}
	}
	if strings.Contains(m, "BREW") {
		t.Error("metrics carry a client-chosen method label")
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

func TestCallerOutsideRequest(t *testing.T) {
	if id, ok := Caller(context.Background()); ok {
		t.Errorf("Caller of a bare context = %+v, true", id)
	}
}

// TestSecretsNeverLogged makes requests with good, bad and near-miss
// tokens, and a panicking handler, then greps the log (at debug level)
// and the audit log for every token presented.
func TestSecretsNeverLogged(t *testing.T) {
	h := start(t, nil, func(s *Server) {
		s.HandleFunc("GET /v1/boom", RoleViewer, func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	wrong := "wrong-secret-5a5a5a5a5a5a"
	near := opSecret[:len(opSecret)-1] + "X"
	for _, tok := range []string{opSecret, viewerSecret, wrong, near} {
		do(t, "GET", h.url+"/v1/read", bearer(tok))
		do(t, "POST", h.url+"/v1/change", cookie(h.sessionOf(tok)))
		do(t, "GET", h.url+"/v1/boom", bearer(tok))
		do(t, "GET", h.url+"/v1/nothing", bearer(tok))
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	audit, err := os.ReadFile(h.cfg.AuditPath)
	if err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "API request") || !strings.Contains(logs, "panicked") {
		t.Fatalf("the log lacks the request and panic lines this test checks:\n%s", logs)
	}
	if n := strings.Count(string(audit), "\n"); n != 16 {
		t.Errorf("%d audit records, want 16", n)
	}
	for _, tok := range []string{opSecret, viewerSecret, wrong, near} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log contains the token %q", tok)
		}
		if strings.Contains(string(audit), tok) {
			t.Errorf("the audit log contains the token %q", tok)
		}
	}
}

func TestPanicBecomes500(t *testing.T) {
	h := start(t, nil, func(s *Server) {
		s.HandleFunc("GET /v1/boom", RoleViewer, func(http.ResponseWriter, *http.Request) { panic("boom") })
		s.HandleFunc("GET /v1/halfway", RoleViewer, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			fmt.Fprint(w, "partial")
			w.(http.Flusher).Flush() // the client has the header: it cannot retry
			panic("halfway")
		})
	})
	r := do(t, "GET", h.url+"/v1/boom", bearer(viewerSecret))
	if r.code != 500 || !strings.Contains(r.body, `"error": "internal error"`) {
		t.Errorf("panic: %d %q, want 500 internal error", r.code, r.body)
	}
	if _, err := send(nil, "GET", h.url+"/v1/halfway", nil, bearer(viewerSecret)); err == nil {
		t.Error("a response cut short by a panic looked whole to the client")
	}
	if r := do(t, "GET", h.url+"/v1/read", bearer(viewerSecret)); r.code != 200 {
		t.Errorf("server unusable after panics: %d", r.code)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), `panic=boom`) {
		t.Errorf("panic not logged:\n%s", h.logs)
	}
	recs := readAudit(t, h.cfg.AuditPath)
	if len(recs) != 3 || recs[0].Result != "500" || recs[1].Result != "aborted" || recs[2].Result != "200" {
		t.Errorf("audit records %+v, want results 500, aborted, 200", recs)
	}
}

func TestBodyLimit(t *testing.T) {
	h := start(t, nil, nil)
	body := strings.NewReader(strings.Repeat("x", maxBodyBytes+1))
	r, err := send(nil, "POST", h.url+"/v1/change", body, bearer(opSecret))
	if err != nil {
		t.Fatal(err)
	}
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %q, want 413", r.code, r.body)
	}
}

func TestHandlePanicsOnMisuse(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(cfg, nil, newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "unknown role", func() { s.HandleFunc("GET /x", Role("admin"), nil) })
	mustPanic(t, "empty role", func() { s.HandleFunc("GET /y", "", nil) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if _, err := s.Addr(ctx); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "after Run", func() { s.HandleFunc("GET /z", RoleViewer, func(http.ResponseWriter, *http.Request) {}) })
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("second Run: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

// TestMetricsNeedToken: with MetricsNeedToken, /metrics answers a viewer's
// token and refuses none or a wrong one; /healthz stays open.
func TestMetricsNeedToken(t *testing.T) {
	h := start(t, func(c *Config) { c.MetricsNeedToken = true }, nil)
	for _, c := range []struct {
		opts []reqOpt
		code int
	}{
		{nil, 401},
		{[]reqOpt{bearer("wrong-token-0000000000")}, 401},
		{[]reqOpt{bearer(viewerSecret)}, 200},
	} {
		if r := do(t, "GET", h.url+"/metrics", c.opts...); r.code != c.code || (c.code == 200 && !strings.Contains(r.body, "regiond_api_auth_failures_total 2")) {
			t.Errorf("/metrics %v: %d, want %d", c.opts != nil, r.code, c.code)
		}
	}
	if r := do(t, "GET", h.url+"/healthz"); r.code != 200 {
		t.Errorf("/healthz: %d", r.code)
	}
}
