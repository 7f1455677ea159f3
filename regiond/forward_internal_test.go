package regiond

import "testing"

// TestTokenExposed: a caller's token is forwarded to the controller's
// leader only over https or on the same host.
func TestTokenExposed(t *testing.T) {
	for _, c := range []struct {
		self, to string
		exposed  bool
	}{
		{"http://10.0.0.1:7070", "https://10.0.0.2:7070", false},
		{"http://127.0.0.1:7070", "http://127.0.0.1:7071", false},
		{"http://10.0.0.1:7070", "http://localhost:7071", false},
		{"http://regiond-a.internal:7070", "http://regiond-a.internal:7071", false},
		{"http://10.0.0.1:7070", "http://10.0.0.2:7070", true},
		{"https://10.0.0.1:7070", "http://10.0.0.2:7070", true},
		{"http://10.0.0.1:7070", "::bad", true},
	} {
		if why := tokenExposed(c.self, c.to); (why != "") != c.exposed {
			t.Errorf("%s -> %s: %q, want exposed %v", c.self, c.to, why, c.exposed)
		}
	}
}
