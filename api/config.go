package api

import (
	"errors"
	"fmt"
	"time"
)

// Role says what a caller may do.
type Role string

// Roles, weakest first.
const (
	// RoleViewer may call read-only endpoints.
	RoleViewer Role = "viewer"
	// RoleOperator may also change things (switches, failovers).
	RoleOperator Role = "operator"
)

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
func (r Role) Allows(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Token is one credential the server accepts.
type Token struct {
	// Name is the identity recorded in the audit log.
	Name string
	Role Role
	// Secret is the bearer token value; it is never logged.
	Secret string
}

// Config configures a Server.
type Config struct {
	// Listen is host:port, e.g. "127.0.0.1:7070" (port 0 picks one).
	Listen string
	// TLSCertFile and TLSKeyFile serve HTTPS when both are set.
	TLSCertFile, TLSKeyFile string
	// Tokens are the accepted credentials; at least one.
	Tokens []Token
	// AuditPath is the file the audit log is appended to (JSON lines).
	AuditPath string
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig() Config { return Config{ShutdownTimeout: 10 * time.Second} }

// Validate reports every problem with c, each naming the field and fix.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("api: "+format, args...)) }
	if c.Listen == "" {
		add("listen address is empty: set the region's listen (host:port)")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		add("TLS cert and key go together: set both api_tls.cert_file and api_tls.key_file, or neither")
	}
	if c.AuditPath == "" {
		add("audit log path is empty: set the region's data_dir")
	}
	if c.ShutdownTimeout <= 0 {
		add("shutdown timeout must be positive")
	}
	if len(c.Tokens) == 0 {
		add("no tokens: list at least one under api.tokens; the API never runs open")
	}
	seen := map[string]int{}
	for i, t := range c.Tokens {
		if t.Name == "" {
			add("tokens[%d].name is empty: name who holds the token; the audit log records it", i)
		}
		if t.Role.rank() == 0 {
			add("tokens[%d].role %q is not a role: use operator or viewer", i, t.Role)
		}
		if t.Secret == "" {
			add("tokens[%d].secret is empty: set the token's secret (env or file in the deployment config)", i)
		} else if j, dup := seen[t.Secret]; dup {
			add("tokens[%d] has the same secret as tokens[%d]: every token needs its own secret", i, j)
		} else {
			seen[t.Secret] = i
		}
		if len(t.Secret) > 0 && len(t.Secret) < 16 {
			add("tokens[%d] secret is shorter than 16 characters: use a long random value (e.g. openssl rand -hex 24)", i)
		}
	}
	return errors.Join(errs...)
}
