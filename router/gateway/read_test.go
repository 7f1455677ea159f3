package gateway

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
)

// replica is a fixed answer about what region a applied of region b
// (a narrow stand-in for regiond's appliers; the lab test uses real ones).
type replica struct {
	mu      sync.Mutex
	stale   time.Duration
	running bool
	applied map[string]bool
	asked   int
}

func (r *replica) Staleness(from string) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stale, r.running && from == "b"
}

func (r *replica) Applied(from, gtid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	return from == "b" && r.applied[gtid]
}

// TestReadLevels: the gateway of region a serves a read of a user of b
// by its level: strong from b; eventual from a; bounded from a while a's
// copy of b is younger than the bound and its link runs; session from a
// once a applied the client's token, else from b after SessionWait; the
// route's level applies without a header; a bad level is 400; a write's
// answer carries the session token made of the region and its GTID.
func TestReadLevels(t *testing.T) {
	rep := &replica{running: true, applied: map[string]bool{"0-2-7": true}}
	f := start(t, func(c *Config) {
		c.Region, c.Replica, c.SessionWait = "a", rep, 50*time.Millisecond
		c.ReadLevels = []config.ReadLevel{{Path: "/users/*/requests", Level: "bounded=1s"}}
	}, nil, false)
	f.b.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			w.Header().Set(HeaderGTID, "0-2-9")
		}
		return false
	}
	userB := keyIn(8, 15)
	read := func(path, lvl, token string) (string, string) {
		h := map[string]string{"X-User-Id": userB}
		if lvl != "" {
			h[HeaderConsistency] = lvl
		}
		if token != "" {
			h[HeaderSession] = token
		}
		resp, body := f.do(t, "GET", path, h, "")
		if resp.StatusCode != 200 {
			return resp.Status, body
		}
		return body, resp.Header.Get(HeaderRead)
	}
	for _, tc := range []struct {
		name, path, lvl, token string
		stale                  time.Duration
		running                bool
		want, served           string
	}{
		{"strong", "/users/x", "strong", "", 0, true, "b", "owner"},
		{"default strong", "/users/x", "", "", 0, true, "b", "owner"},
		{"eventual", "/users/x", "eventual", "", 0, true, "a", "local"},
		{"bounded fresh", "/users/x", "bounded=1s", "", 500 * time.Millisecond, true, "a", "local"},
		{"bounded stale", "/users/x", "bounded=1s", "", 2 * time.Second, true, "b", "owner"},
		{"bounded link down", "/users/x", "bounded=1s", "", 0, false, "b", "owner"},
		{"route level", "/users/x/requests", "", "", 500 * time.Millisecond, true, "a", "local"},
		{"route level stale", "/users/x/requests", "", "", 2 * time.Second, true, "b", "owner"},
		{"session without token", "/users/x", "session", "", 0, true, "a", "local"},
		{"session applied", "/users/x", "session", "b:0-2-7", 0, true, "a", "local"},
		{"session written here", "/users/x", "session", "a:0-1-3", 0, true, "a", "local"},
		{"session not applied", "/users/x", "session", "b:0-2-8", 0, true, "b", "owner"},
		{"session bad token", "/users/x", "session", "0-2-8", 0, true, "b", "owner"},
	} {
		rep.mu.Lock()
		rep.stale, rep.running = tc.stale, tc.running
		rep.mu.Unlock()
		t0 := time.Now()
		got, served := read(tc.path, tc.lvl, tc.token)
		if got != tc.want || served != tc.served {
			t.Errorf("%s: served by %q (%s), want %q (%s)", tc.name, got, served, tc.want, tc.served)
		}
		if tc.name == "session not applied" {
			if d := time.Since(t0); d < 50*time.Millisecond {
				t.Errorf("a session read not applied was forwarded after %s, before SessionWait 50ms", d)
			}
		}
	}
	if got, body := read("/users/x", "bounded", ""); got != "400 Bad Request" || !strings.Contains(body, "not a consistency level") {
		t.Errorf("a bad level: %s %s", got, body)
	}
	resp, _ := f.do(t, "POST", "/users/x/moves", map[string]string{"X-User-Id": userB}, "{}")
	if tok := resp.Header.Get(HeaderSession); tok != "b:0-2-9" {
		t.Errorf("a write's session token %q, want b:0-2-9", tok)
	}
	// Keyless: an eventual read is served locally; a strong one has no
	// default region here.
	if resp, body := f.do(t, "GET", "/products/7", map[string]string{HeaderConsistency: "eventual"}, ""); resp.StatusCode != 200 || body != "a" {
		t.Errorf("a keyless eventual read: %d %q, want a", resp.StatusCode, body)
	}
	if resp, body := f.do(t, "GET", "/products/7", nil, ""); resp.StatusCode != 400 || !strings.Contains(body, "eventual") {
		t.Errorf("a keyless strong read without a default region: %d %q", resp.StatusCode, body)
	}
}
