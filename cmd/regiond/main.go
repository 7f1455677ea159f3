// Command regiond is the per-region daemon of the platform. Run one in
// every region, all with the same deployment config:
//
//	regiond --config /etc/region/deploy.yaml --region a
//
// With --gateway-only it runs just a router and the routing gateway of the
// region on its regions[].gateway_listen:
//
//	regiond --config /etc/region/deploy.yaml --region a --gateway-only --metrics-listen 127.0.0.1:9108
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

	"github.com/rcrowley/go-metrics"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/failover/drill/live"
	"github.com/regionplatform/region/regiond"
)

func main() {
	// sarama keeps go-metrics histograms of every request, which regiond
	// exports nowhere (its own metrics are Prometheus'): a few percent of
	// its CPU under load, switched off as sarama documents.
	metrics.UseNilMetrics = true
	if err := gcDefaults(); err != nil {
		fatal("%v", err)
	}
	fs := flag.NewFlagSet("regiond", flag.ExitOnError)
	cfgPath := fs.String("config", os.Getenv("REGIOND_CONFIG"), "deployment config file (or $REGIOND_CONFIG)")
	region := fs.String("region", os.Getenv("REGIOND_REGION"), "the region this daemon serves (or $REGIOND_REGION)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	version := fs.Bool("version", false, "print the version and exit")
	gatewayOnly := fs.Bool("gateway-only", false, "run only a router and the gateway of --region on its regions[].gateway_listen (no API, capture or appliers)")
	metricsListen := fs.String("metrics-listen", "", "with --gateway-only: host:port serving GET /metrics (default: none)")
	join := fs.Bool("join", false, "this region was added to a running deployment (regionctl region add): its controller node, if it has no Raft state yet, waits to be added as a voter instead of starting a cluster; harmless later")
	witness := fs.Bool("witness", false, "run the failover controller's witness (controller.witness): a Raft voter and gossip observer with no MySQL; no --region")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `regiond runs one region of the platform: its HTTP API (health, status,
metrics, audit log) and, as they land, capture, appliers, router and controller.

With regions[].gateway_listen set it also runs the gateway there: the
reverse proxy that sends each request to the application (regions[].app)
of its user's region, found from the user key in router.user_header, then
router.user_cookie, then router.user_query, and answers writes to a bucket
a traffic switch holds write-forbidden 503 with Retry-After.

--gateway-only runs just a router and that gateway, for running gateways
apart from the daemon (e.g. several behind a load balancer). It needs only
etcd and the deployment config; it serves 503 until a regiond has written
the first routing table.

With regions[].controller set every regiond runs a node of the failover
controller (Raft, and gossip for liveness). --witness runs the witness
of controller.witness: a voter with no MySQL in a third place, so that a
two-region deployment keeps a majority when one region is down.

Usage:
  regiond --config FILE --region NAME
  regiond --config FILE --region NAME --gateway-only [--metrics-listen HOST:PORT]
  regiond --config FILE --witness
  regiond --config FILE --region NAME --join   (a region added by regionctl region add)

Example:
  regiond --config /etc/region/deploy.yaml --region eu-west
  regiond --config /etc/region/deploy.yaml --region eu-west --gateway-only --metrics-listen 127.0.0.1:9108

Environment:
  REGIOND_CONFIG, REGIOND_REGION   defaults of --config and --region
  GOGC, GOMEMLIMIT                 Go's collector; regiond's defaults are 400, and 3/4 of
                                   the cgroup's memory limit (else 1/4 of the machine's)

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
	if *cfgPath == "" || (*region == "") == !*witness {
		fatal("--config and either --region or --witness are required (see regiond --help)")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fatal("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *witness {
		if err := regiond.RunWitness(ctx, cfg, logger); err != nil {
			fatal("%v", err)
		}
		return
	}
	if *gatewayOnly {
		if err := regiond.RunGateway(ctx, regiond.GatewayConfig{Deployment: cfg, Region: *region, MetricsListen: *metricsListen, Logger: logger}); err != nil {
			fatal("%v", err)
		}
		return
	}
	if *metricsListen != "" {
		fatal("--metrics-listen is only for --gateway-only: the daemon serves /metrics on its API (regions[].listen)")
	}
	// Scheduled drills run through the same runner as `regionctl drill run`.
	runner := live.Runner{Config: cfg} // its report says what happened
	d, err := regiond.New(regiond.Config{Deployment: cfg, Region: *region, Logger: logger, DrillRunner: runner, Join: *join})
	if err != nil {
		fatal("%v", err)
	}
	if err := d.Run(ctx); err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "regiond: "+format+"\n", args...)
	os.Exit(1)
}
