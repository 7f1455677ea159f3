package apiserver

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Listen: "127.0.0.1:7070", AuditPath: "/var/lib/regiond/audit.log",
			Tokens: []Token{{Name: "alice", Role: RoleOperator, Secret: opSecret}, {Name: "dash", Role: RoleViewer, Secret: viewerSecret}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good config (zero timeout means the default): %v", err)
	}
	if err := DefaultConfig().Validate(); err == nil {
		t.Error("DefaultConfig validated, but it has no listen, audit path or tokens")
	}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no listen", func(c *Config) { c.Listen = "" }, "api: listen is empty: set"},
		{"bad listen", func(c *Config) { c.Listen = "localhost" }, `api: listen "localhost" is not host:port`},
		{"cert without key", func(c *Config) { c.TLSCertFile = "c.pem" }, "api: tls_key_file is empty but tls_cert_file is set: set both"},
		{"key without cert", func(c *Config) { c.TLSKeyFile = "k.pem" }, "api: tls_cert_file is empty but tls_key_file is set: set both"},
		{"no audit path", func(c *Config) { c.AuditPath = "" }, "api: audit_path is empty: set"},
		{"negative timeout", func(c *Config) { c.ShutdownTimeout = -time.Second }, "api: shutdown_timeout is negative"},
		{"no tokens", func(c *Config) { c.Tokens = nil }, "api: tokens is empty: list at least one"},
		{"unknown role", func(c *Config) { c.Tokens[1].Role = "admin" }, `api: tokens[1].role "admin" is not a role: use "operator" or "viewer"`},
		{"empty role", func(c *Config) { c.Tokens[0].Role = "" }, `api: tokens[0].role "" is not a role`},
		{"no name", func(c *Config) { c.Tokens[1].Name = "" }, "api: tokens[1].name is empty: name who holds the token"},
		{"duplicate name", func(c *Config) { c.Tokens[1].Name = "alice" }, `api: tokens[1].name "alice" is also tokens[0].name`},
		{"empty secret", func(c *Config) { c.Tokens[1].Secret = "" },
			"api: tokens[1].secret is empty: set the token's secret (env or file in the deployment config)"},
		{"short secret", func(c *Config) { c.Tokens[0].Secret = "abc123" }, "api: tokens[0].secret is shorter than 16 characters"},
		{"secret with newline", func(c *Config) { c.Tokens[0].Secret = opSecret + "\n" }, "api: tokens[0].secret contains white space"},
		{"duplicate secret", func(c *Config) { c.Tokens[1].Secret = opSecret }, "api: tokens[1].secret is the same as tokens[0].secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			for _, s := range []string{opSecret, viewerSecret, "abc123"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("the error reveals a secret: %v", err)
				}
			}
		})
	}
}

func TestConfigValidateJoinsAll(t *testing.T) {
	c := Config{Tokens: []Token{{Role: "root"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"listen is empty", "audit_path is empty", "tokens[0].name is empty", "tokens[0].role", "tokens[0].secret is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 5 {
		t.Errorf("%d problems reported, want 5:\n%v", n, err)
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		r, min Role
		want   bool
	}{
		{RoleOperator, RoleViewer, true},
		{RoleOperator, RoleOperator, true},
		{RoleViewer, RoleViewer, true},
		{RoleViewer, RoleOperator, false},
		{"", RoleViewer, false},
		{"admin", RoleViewer, false},
		{RoleOperator, "admin", false},
	}
	for _, tt := range tests {
		if got := tt.r.Allows(tt.min); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.r, tt.min, got, tt.want)
		}
	}
}
