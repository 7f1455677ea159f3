package apiserver_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/apiserver"
)

func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := apiserver.DefaultConfig()
	cfg.Listen = "127.0.0.1:7070"
	cfg.AuditPath = "/var/lib/regiond/audit.log"
	cfg.Tokens = []apiserver.Token{{Name: "oncall", Role: apiserver.RoleOperator, Secret: os.Getenv("REGION_TOKEN")}}
	s, err := apiserver.New(cfg, logger, prometheus.NewRegistry())
	if err != nil {
		logger.Error("api", "err", err)
		return
	}
	s.HandleFunc("GET /v1/status", apiserver.RoleViewer, func(w http.ResponseWriter, r *http.Request) {
		who, _ := apiserver.Caller(r.Context())
		apiserver.WriteJSON(w, http.StatusOK, map[string]string{"hello": who.Name})
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := s.Run(ctx); err != nil {
		logger.Error("api", "err", err)
	}
}
