package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/router"
)

// TestGlobalWrites: a declared write of a global table goes to the home
// region's application without a user key, passes with a user of the
// home, is refused 409 naming the home for a user elsewhere, and 503
// while a move fences the table; reads and undeclared methods pass as
// before; after the flip the other region is the home.
func TestGlobalWrites(t *testing.T) {
	f := start(t, func(c *Config) {
		c.GlobalWrites = []config.GlobalWrite{{Path: "/products/", Methods: []string{"POST", "PUT"}, Table: "lending.products"}}
	}, nil, false)
	f.update(t, "add-places", func(tb *router.Table) error {
		tb.Globals = append(tb.Globals, router.Global{Table: "lending.products", Home: "a", State: router.Serving})
		return nil
	})
	inA, inB := keyIn(0, 7), keyIn(8, 15)
	for _, tc := range []struct {
		method, path, user string
		code               int
		upstream, inBody   string
	}{
		{"POST", "/products/7", "", 200, "a", ""},
		{"PUT", "/products/7", inA, 200, "a", ""},
		{"PUT", "/products/7", inB, 409, "", "whose home is region a, but user " + inB + " lives in region b"},
		{"GET", "/products/7", inB, 200, "b", ""},    // reads go to the user's region
		{"DELETE", "/products/7", inB, 200, "b", ""}, // not declared
		{"POST", "/loans", inB, 200, "b", ""},
	} {
		h := map[string]string{}
		if tc.user != "" {
			h["X-User-Id"] = tc.user
		}
		resp, body := f.do(t, tc.method, tc.path, h, "")
		if resp.StatusCode != tc.code || tc.upstream != "" && body != tc.upstream || !strings.Contains(body, tc.inBody) {
			t.Errorf("%s %s user %q: %d %q, want %d from %q containing %q", tc.method, tc.path, tc.user, resp.StatusCode, body, tc.code, tc.upstream, tc.inBody)
		}
		if tc.code == http.StatusConflict && resp.Header.Get(HeaderHome) != "a" {
			t.Errorf("409 without %s: a", HeaderHome)
		}
	}
	f.update(t, "fence", func(tb *router.Table) error { return tb.FenceGlobals([]string{"lending.products"}, "sw-1") })
	resp, body := f.do(t, "POST", "/products/7", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "its home is moving") {
		t.Errorf("fenced: %d %q, want 503 with Retry-After", resp.StatusCode, body)
	}
	if resp, body := f.do(t, "GET", "/products/7", nil, ""); resp.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("a read while fenced: %d %q", resp.StatusCode, body)
	}
	f.update(t, "flip", func(tb *router.Table) error { return tb.Flip("sw-1", "b1") })
	if resp, body := f.do(t, "PUT", "/products/7", map[string]string{"X-User-Id": inB}, ""); resp.StatusCode != 200 || body != "b" {
		t.Errorf("after the home moved to b, a user of b: %d %q", resp.StatusCode, body)
	}
	if resp, _ := f.do(t, "PUT", "/products/7", map[string]string{"X-User-Id": inA}, ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("after the home moved to b, a user of a: %d, want 409", resp.StatusCode)
	}
}
