package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/api"
)

func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := api.DefaultConfig()
	cfg.Listen = "127.0.0.1:7070"
	cfg.AuditPath = "/var/lib/regiond/audit.log"
	cfg.Tokens = []api.Token{{Name: "oncall", Role: api.RoleOperator, Secret: os.Getenv("REGION_TOKEN")}}
	s, err := api.New(cfg, logger, prometheus.NewRegistry())
	if err != nil {
		logger.Error("api", "err", err)
		return
	}
	s.HandleFunc("GET /v1/status", api.RoleViewer, func(w http.ResponseWriter, r *http.Request) {
		who, _ := api.Caller(r.Context())
		api.WriteJSON(w, http.StatusOK, map[string]string{"hello": who.Name})
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := s.Run(ctx); err != nil {
		logger.Error("api", "err", err)
	}
}
