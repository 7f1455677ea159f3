package apiserver

import (
	"fmt"
	"net/http"
	"time"
)

// sessionMaxAge is how long a console login lasts: a shift, so that a
// browser left open does not stay logged in for good.
const sessionMaxAge = 12 * time.Hour

// HandlePublic registers h for pattern on a route that needs no token,
// such as a console's page and its login form. Public routes go through
// the same middleware as the others: each request is audited (as
// "anonymous" when it carries no valid token), counted, refused when it
// is a cross-origin browser POST, and its body is limited to 1 MiB.
// Caller reports the identity when the request carries a valid token
// anyway. Public patterns are matched before the token-protected ones.
//
// HandlePublic must be called before Run; it panics if called after Run
// or, as ServeMux does, if pattern is invalid or conflicts with another
// public one.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	if s.started.Load() {
		panic(fmt.Sprintf("api: HandlePublic %q called after Run", pattern))
	}
	s.public.Handle(pattern, h)
}

// loginResult is how a login handler tells the middleware whom the
// token it checked belongs to, for the audit record.
type loginResult struct {
	id Identity
	ok bool
}

type loginKey struct{}

// LoginHandler returns the handler of a browser console's login, to be
// registered with HandlePublic on a POST pattern. It takes the token
// from the form field "token" (application/x-www-form-urlencoded),
// checks it as every request's token is checked and, when it is valid,
// opens a session and sets the CookieName cookie to its id (HttpOnly, SameSite=Strict, Path=/, Secure
// when the server serves TLS, for 12 hours) and answers 200
// {"name": ..., "role": ...}. A wrong token gets 401. The request's
// audit record names the identity that logged in, or "anonymous"; the
// token itself is never logged.
func (s *Server) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostFormValue("token")
		id, ok := s.check(tok)
		if !ok {
			s.metrics.authFailures.Inc()
			WriteError(w, http.StatusUnauthorized, "wrong token",
				"paste the whole token of your operator or viewer credential; the lab writes them to DIR/token and DIR/viewer.token")
			return
		}
		if res, ok := r.Context().Value(loginKey{}).(*loginResult); ok {
			res.id, res.ok = id, true
		}
		http.SetCookie(w, s.sessionCookie(s.sessions.open(tok, time.Now()), int(sessionMaxAge/time.Second)))
		WriteJSON(w, http.StatusOK, Whoami{Name: id.Name, Role: id.Role})
	})
}

// LogoutHandler returns the handler of a browser console's logout, to be
// registered with HandlePublic on a POST pattern: it ends the session
// the CookieName cookie names (a copy of the cookie no longer works),
// clears the cookie and answers 204.
func (s *Server) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(CookieName); err == nil {
			s.sessions.close(c.Value)
		}
		http.SetCookie(w, s.sessionCookie("", -1))
		w.WriteHeader(http.StatusNoContent)
	})
}

// Whoami is the identity of a caller as the console shows it.
type Whoami struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// sessionCookie is the console's session cookie; maxAge < 0 deletes it.
func (s *Server) sessionCookie(id string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.tlsCert != nil}
}

// RequestToken returns the token r presented (bearer header, or its
// session's), for a handler that must call another regiond of the same
// deployment on the caller's behalf. Never log it or send it anywhere
// else.
func (s *Server) RequestToken(r *http.Request) string { return s.presented(r) }
