// Package api is the HTTP server regiond hosts: bearer-token
// authentication with viewer and operator roles, an audit log of who did
// what, Prometheus metrics, a health check and graceful shutdown.
//
// Usage:
//
//	cfg := api.DefaultConfig()
//	cfg.Listen = "127.0.0.1:7070"
//	cfg.AuditPath = "/var/lib/regiond/audit.log"
//	cfg.Tokens = []api.Token{{Name: "oncall", Role: api.RoleOperator, Secret: secret}}
//	s, err := api.New(cfg, logger, reg) // reg: the daemon's *prometheus.Registry
//	if err != nil {
//		return err
//	}
//	s.HandleFunc("GET /v1/status", api.RoleViewer, func(w http.ResponseWriter, r *http.Request) {
//		who, _ := api.Caller(r.Context())
//		api.WriteJSON(w, http.StatusOK, status(who))
//	})
//	return s.Run(ctx) // serves until ctx ends, then drains within cfg.ShutdownTimeout
//
// GET /healthz, GET /readyz (SetReadiness: 503 until the daemon can
// answer its API) and GET /metrics need no token and are not audited.
// Every other request needs
// one, in an "Authorization: Bearer" header or the CookieName cookie, and
// becomes one line of the audit log, whether it is served or refused:
// 401 for a missing or wrong token, 403 for a role too weak or a
// cross-origin browser request, 404 for an unknown route. Errors are JSON
// ({"error": ..., "hint": ...}). Token secrets never reach the log or the
// audit log.
//
// A browser console registers its page with HandlePublic, which needs no
// token but is audited like the rest, and its login and logout with
// LoginHandler and LogoutHandler: login checks a posted token and keeps
// it in the HttpOnly CookieName cookie, which later requests present.
package api
