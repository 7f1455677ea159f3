// Command regiond is the per-region daemon of the platform. Run one in
// every region, all with the same deployment config:
//
//	regiond --config /etc/region/deploy.yaml --region a
//
// It stops gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/regiond"
)

func main() {
	fs := flag.NewFlagSet("regiond", flag.ExitOnError)
	cfgPath := fs.String("config", os.Getenv("REGIOND_CONFIG"), "deployment config file (or $REGIOND_CONFIG)")
	region := fs.String("region", os.Getenv("REGIOND_REGION"), "the region this daemon serves (or $REGIOND_REGION)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `regiond runs one region of the platform: its HTTP API (health, status,
metrics, audit log) and, as they land, capture, appliers, router and controller.

Usage:
  regiond --config FILE --region NAME

Example:
  regiond --config /etc/region/deploy.yaml --region eu-west

Flags:
`)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if *version {
		fmt.Println(regiond.Version)
		return
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fatal("--log-level: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if *cfgPath == "" || *region == "" {
		fatal("--config and --region are required (see regiond --help)")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fatal("%v", err)
	}
	d, err := regiond.New(regiond.Config{Deployment: cfg, Region: *region, Logger: logger})
	if err != nil {
		fatal("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.Run(ctx); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "regiond: "+format+"\n", args...)
	os.Exit(1)
}
