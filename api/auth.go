package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
)

// CookieName is the cookie the console keeps its token in.
const CookieName = "region_token"

// Identity is an authenticated caller.
type Identity struct {
	Name string
	Role Role
}

type ctxKey struct{}

// Caller returns the authenticated identity of a request; ok is false on
// routes that need no token.
func Caller(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// authenticate finds the token of r among the configured ones. Every
// token is compared in constant time, so timing says nothing about which
// one nearly matched.
func (s *Server) authenticate(r *http.Request) (Identity, bool) {
	secret := ""
	if h := r.Header.Get("Authorization"); h != "" {
		if v, ok := strings.CutPrefix(h, "Bearer "); ok {
			secret = strings.TrimSpace(v)
		}
	} else if c, err := r.Cookie(CookieName); err == nil {
		secret = c.Value
	}
	if secret == "" {
		return Identity{}, false
	}
	var found Identity
	ok := false
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(t.Secret)) == 1 {
			found, ok = Identity{Name: t.Name, Role: t.Role}, true
		}
	}
	return found, ok
}
