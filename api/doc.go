// Package api is the HTTP server regiond hosts: bearer-token auth with
// viewer and operator roles, an audit log of who did what, Prometheus
// metrics, health, and graceful shutdown.
//
//	cfg := api.DefaultConfig()
//	cfg.Listen = "127.0.0.1:7070"
//	cfg.AuditPath = "/var/lib/regiond/audit.log"
//	cfg.Tokens = []api.Token{{Name: "oncall", Role: api.RoleOperator, Secret: secret}}
//	s, err := api.New(cfg, logger, prometheus.NewRegistry())
//	if err != nil { ... }
//	s.HandleFunc("GET /v1/status", api.RoleViewer, statusHandler)
//	err = s.Run(ctx) // serves until ctx ends, then drains within cfg.ShutdownTimeout
//
// Every route but /healthz and /metrics needs a token, and every request
// to them is one line in the audit log. Token secrets are never logged.
package api
