// Package api is the HTTP server regiond hosts: bearer-token
// authentication with viewer and operator roles, an audit log of who did
// what, Prometheus metrics, a health check and graceful shutdown.
//
// Usage:
//
//	cfg := apiserver.DefaultConfig()
//	cfg.Listen = "127.0.0.1:7070"
//	cfg.AuditPath = "/var/lib/regiond/audit.log"
//	cfg.Tokens = []apiserver.Token{{Name: "oncall", Role: apiserver.RoleOperator, Secret: secret}}
//	s, err := apiserver.New(cfg, logger, reg) // reg: the daemon's *prometheus.Registry
//	if err != nil {
//		return err
//	}
//	s.HandleFunc("GET /v1/status", apiserver.RoleViewer, func(w http.ResponseWriter, r *http.Request) {
//		who, _ := apiserver.Caller(r.Context())
//		apiserver.WriteJSON(w, http.StatusOK, status(who))
//	})
//	return s.Run(ctx) // serves until ctx ends, then drains within cfg.ShutdownTimeout
//
// GET /healthz and GET /metrics need no token. Every other request needs
// one, in an "Authorization: Bearer" header or a console session's
// CookieName cookie, and
// becomes one line of the audit log, whether it is served or refused:
// 401 for a missing or wrong token, 403 for a role too weak or a
// cross-origin browser request, 404 for an unknown route. Errors are JSON
// ({"error": ..., "hint": ...}). Token secrets never reach the log or the
// audit log.
//
// A browser console registers its page with HandlePublic, which needs no
// token but is audited like the rest, and its login and logout with
// LoginHandler and LogoutHandler: login checks a posted token, opens a
// session that keeps it in the server's memory, and sets the HttpOnly
// CookieName cookie to the session's random id, which later requests
// present; logout ends the session (session.go).
package apiserver
