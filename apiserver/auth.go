package apiserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// CookieName is the cookie a browser console keeps its session in (a
// random id; the token never leaves the server: session.go). The
// Authorization header wins when a request carries both.
const CookieName = "region_session"

// Identity is an authenticated caller.
type Identity struct {
	// Name is the token's name, as recorded in the audit log.
	Name string
	// Role is what the caller may do.
	Role Role
}

type callerKey struct{}

// Caller returns the authenticated identity of the request whose context
// is ctx. ok is false on routes that need no token, and for contexts that
// did not come from the server.
func Caller(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(Identity)
	return id, ok
}

// credential is a configured token with its secret reduced to a digest,
// so that comparisons take the same time whatever the presented length.
type credential struct {
	id     Identity
	digest [sha256.Size]byte
}

func credentials(tokens []Token) []credential {
	out := make([]credential, len(tokens))
	for i, t := range tokens {
		out[i] = credential{id: Identity{Name: t.Name, Role: t.Role}, digest: sha256.Sum256([]byte(t.Secret))}
	}
	return out
}

// presented returns the token a request carries: the bearer token of its
// Authorization header or, when it has none, the token of the open
// session its CookieName cookie names.
func (s *Server) presented(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(tok)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if tok, ok := s.sessions.token(c.Value, time.Now()); ok {
			return tok
		}
	}
	return ""
}

// authenticate finds the identity whose token r carries. The presented
// token is compared in constant time with every configured one, so the
// response time says nothing about which, if any, nearly matched.
func (s *Server) authenticate(r *http.Request) (Identity, bool) {
	return s.check(s.presented(r))
}

// check finds the identity whose token is tok, in constant time.
func (s *Server) check(tok string) (Identity, bool) {
	if tok == "" {
		return Identity{}, false
	}
	d := sha256.Sum256([]byte(tok))
	var found Identity
	match := 0
	for _, c := range s.creds {
		eq := subtle.ConstantTimeCompare(d[:], c.digest[:])
		if eq == 1 {
			found = c.id
		}
		match |= eq
	}
	return found, match == 1
}
