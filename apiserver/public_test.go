package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// publicRoutes adds a public page, login and logout like a console's.
func publicRoutes(s *Server) {
	s.HandlePublic("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := Caller(r.Context())
		WriteJSON(w, 200, map[string]string{"page": "public", "caller": id.Name})
	}))
	s.HandlePublic("POST /login", s.LoginHandler())
	s.HandlePublic("POST /logout", s.LogoutHandler())
}

func readAuditRaw(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func login(t *testing.T, c *http.Client, base, tok string, opts ...reqOpt) response {
	t.Helper()
	opts = append([]reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, opts...)
	r, err := send(c, "POST", base+"/login", strings.NewReader(url.Values{"token": {tok}}.Encode()), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sessionCookieOf(t *testing.T, r response) *http.Cookie {
	t.Helper()
	resp := http.Response{Header: r.header}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie set; headers %v", CookieName, r.header)
	return nil
}

func TestPublicRoutesAndLogin(t *testing.T) {
	h := start(t, nil, publicRoutes)

	if r := do(t, "GET", h.url+"/page"); r.code != 200 || !strings.Contains(r.body, `"caller": ""`) {
		t.Errorf("public page without a token: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", h.url+"/page", cookie(h.sessionOf(viewerSecret))); r.code != 200 || !strings.Contains(r.body, `"caller": "dash"`) {
		t.Errorf("public page with a cookie: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", h.url+"/page", cookie("stale-token-0000000000")); r.code != 200 {
		t.Errorf("public page with a stale cookie: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", h.url+"/v1/read"); r.code != 401 {
		t.Errorf("protected route without a token: %d", r.code)
	}

	if r := login(t, nil, h.url, "wrong-token-0000000000"); r.code != 401 || !strings.Contains(r.body, "wrong token") ||
		r.header.Get("Set-Cookie") != "" {
		t.Errorf("wrong token: %d %s %v", r.code, r.body, r.header)
	}
	if r := login(t, nil, h.url, ""); r.code != 401 {
		t.Errorf("empty token: %d %s", r.code, r.body)
	}
	if r := login(t, nil, h.url, opSecret, header("Sec-Fetch-Site", "cross-site")); r.code != 403 || r.header.Get("Set-Cookie") != "" {
		t.Errorf("cross-site login: %d %s", r.code, r.body)
	}
	r := login(t, nil, h.url, opSecret, header("Sec-Fetch-Site", "same-origin"))
	if r.code != 200 || !strings.Contains(r.body, `"name": "alice"`) || !strings.Contains(r.body, `"role": "operator"`) {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	c := sessionCookieOf(t, r)
	if c.Value == opSecret || strings.Contains(c.Value, opSecret) || len(c.Value) < 40 || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.MaxAge != 12*3600 {
		t.Errorf("cookie %+v: want a session id (not the token), HttpOnly, SameSite=Strict, not Secure without TLS, Path=/, 12h", c)
	}
	if r := do(t, "POST", h.url+"/v1/change", cookie(c.Value), header("Sec-Fetch-Site", "same-origin")); r.code != 200 {
		t.Errorf("the login cookie does not authorise: %d %s", r.code, r.body)
	}
	r = do(t, "POST", h.url+"/logout", cookie(c.Value), header("Sec-Fetch-Site", "same-origin"))
	if c := sessionCookieOf(t, r); r.code != 204 || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout: %d, cookie %+v; want 204 and the cookie deleted", r.code, c)
	}
	// The session ended on the server: a kept copy of the cookie no
	// longer authorises.
	if r := do(t, "POST", h.url+"/v1/change", cookie(c.Value), header("Sec-Fetch-Site", "same-origin")); r.code != 401 {
		t.Errorf("the cookie after logout: %d %s; want 401", r.code, r.body)
	}
	if r := do(t, "DELETE", h.url+"/page"); r.code != 401 {
		t.Errorf("other methods of a public path need a token: %d", r.code)
	}

	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
	want := []AuditRecord{
		{Actor: "anonymous", Action: "GET /page", Result: "200"},
		{Actor: "dash", Role: RoleViewer, Action: "GET /page", Result: "200"},
		{Actor: "anonymous", Action: "GET /page", Result: "200"},
		{Actor: "anonymous", Action: "GET /v1/read", Result: "401"},
		{Actor: "anonymous", Action: "POST /login", Result: "401"},
		{Actor: "anonymous", Action: "POST /login", Result: "401"},
		{Actor: "anonymous", Action: "POST /login", Result: "403"},
		{Actor: "alice", Role: RoleOperator, Action: "POST /login", Result: "200"},
		{Actor: "alice", Role: RoleOperator, Action: "POST /v1/change", Result: "200"},
		{Actor: "alice", Role: RoleOperator, Action: "POST /logout", Result: "204"},
		{Actor: "anonymous", Action: "POST /v1/change", Result: "401"},
		{Actor: "anonymous", Action: "DELETE /page", Result: "401"},
	}
	got := readAudit(t, h.cfg.AuditPath)
	if len(got) != len(want) {
		t.Fatalf("%d audit records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != w.Actor || g.Role != w.Role || g.Action != w.Action || g.Result != w.Result {
			t.Errorf("audit record %d = %+v, want %+v", i, g, w)
		}
	}
	for _, secret := range []string{opSecret, viewerSecret} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("a token reached the log")
		}
		if b := readAuditRaw(t, h.cfg.AuditPath); strings.Contains(b, secret) {
			t.Errorf("a token reached the audit log")
		}
	}
}

func TestLoginCookieSecureWithTLS(t *testing.T) {
	dir := t.TempDir()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(selfSigned(t, dir))
	h := start(t, func(c *Config) {
		c.TLSCertFile, c.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	}, publicRoutes)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	r := login(t, &http.Client{Transport: tr}, h.url, viewerSecret)
	if r.code != 200 || !strings.Contains(r.body, `"role": "viewer"`) {
		t.Fatalf("login over TLS: %d %s", r.code, r.body)
	}
	if c := sessionCookieOf(t, r); !c.Secure {
		t.Errorf("cookie over TLS is not Secure: %+v", c)
	}
}

func TestHandlePublicAfterRunPanics(t *testing.T) {
	h := start(t, nil, nil)
	mustPanic(t, "after Run", func() { h.srv.HandlePublic("GET /late", http.NotFoundHandler()) })
}
