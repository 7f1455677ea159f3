package apiserver

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"
)

// Role says what a caller may do.
type Role string

// The roles, weakest first. A stronger role may do everything a weaker one may.
const (
	// RoleViewer may call read-only endpoints.
	RoleViewer Role = "viewer"
	// RoleOperator may also change things (switches, failovers).
	RoleOperator Role = "operator"
)

// rank orders the roles; 0 means r is not a role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	}
	return 0
}

// Allows reports whether r may call a route that needs at least min.
// An unknown role allows nothing and is allowed nothing.
func (r Role) Allows(min Role) bool {
	return r.rank() > 0 && min.rank() > 0 && r.rank() >= min.rank()
}

// Token is one credential the server accepts.
type Token struct {
	// Name is the identity recorded in the audit log, e.g. "alice" or
	// "lab-operator".
	Name string
	// Role is what the token's holder may do.
	Role Role
	// Secret is the bearer token value. It is never logged.
	Secret string
}

// minSecretLen is the shortest secret Validate accepts.
const minSecretLen = 16

// Config configures a Server.
type Config struct {
	// Listen is the host:port to listen on, e.g. "127.0.0.1:7070".
	// Port 0 picks a free port; Server.Addr reports it.
	Listen string
	// TLSCertFile and TLSKeyFile are PEM files. When both are set the
	// server speaks HTTPS only; set both or neither.
	TLSCertFile string
	TLSKeyFile  string
	// Tokens are the accepted credentials; at least one.
	Tokens []Token
	// AuditPath is the file the audit log is appended to, one JSON
	// object per line. Required.
	AuditPath string
	// ShutdownTimeout bounds the graceful shutdown; 0 means 10s.
	ShutdownTimeout time.Duration
	// MetricsNeedToken makes GET /metrics need a token of any role
	// (Prometheus sends a viewer's as a bearer token); false serves it to
	// anyone who reaches the address.
	MetricsNeedToken bool
}

// DefaultConfig returns a Config with ShutdownTimeout set to 10s and
// everything else empty.
func DefaultConfig() Config { return Config{ShutdownTimeout: 10 * time.Second} }

// Validate reports every problem with c, joined with errors.Join. Each
// message names the field and says how to fix it; none contains a secret.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("api: "+format, args...)) }

	if c.Listen == "" {
		add("listen is empty: set the region's listen address (host:port, e.g. 127.0.0.1:7070)")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen %q is not host:port: use e.g. 127.0.0.1:7070", c.Listen)
	}
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		add("tls_key_file is empty but tls_cert_file is set: set both (api_tls.cert_file and api_tls.key_file in the deployment config) or neither")
	case c.TLSCertFile == "" && c.TLSKeyFile != "":
		add("tls_cert_file is empty but tls_key_file is set: set both (api_tls.cert_file and api_tls.key_file in the deployment config) or neither")
	}
	if c.AuditPath == "" {
		add("audit_path is empty: set the file the audit log is appended to (regiond keeps it in the region's data_dir)")
	}
	if c.ShutdownTimeout < 0 {
		add("shutdown_timeout is negative (%s): use a positive duration, or 0 for the default 10s", c.ShutdownTimeout)
	}
	if len(c.Tokens) == 0 {
		add("tokens is empty: list at least one under api.tokens in the deployment config; the API never runs open")
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for i, t := range c.Tokens {
		if t.Name == "" {
			add("tokens[%d].name is empty: name who holds the token; the audit log records it", i)
		} else if j, dup := names[t.Name]; dup {
			add("tokens[%d].name %q is also tokens[%d].name: give every token its own name so the audit log tells them apart", i, t.Name, j)
		} else {
			names[t.Name] = i
		}
		if t.Role.rank() == 0 {
			add("tokens[%d].role %q is not a role: use %q or %q", i, t.Role, RoleOperator, RoleViewer)
		}
		switch {
		case t.Secret == "":
			add("tokens[%d].secret is empty: set the token's secret (env or file in the deployment config)", i)
		case strings.IndexFunc(t.Secret, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
			add("tokens[%d].secret contains white space or control characters: a bearer token is one printable word; check its env variable or file", i)
		case len(t.Secret) < minSecretLen:
			add("tokens[%d].secret is shorter than %d characters: use a long random value, e.g. openssl rand -hex 24", i, minSecretLen)
		}
		if t.Secret != "" {
			if j, dup := secrets[t.Secret]; dup {
				add("tokens[%d].secret is the same as tokens[%d].secret: give every token its own secret", i, j)
			} else {
				secrets[t.Secret] = i
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultConfig().ShutdownTimeout
	}
	return c
}
