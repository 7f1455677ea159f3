package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/router"
)

// Config configures a Gateway.
type Config struct {
	// Listen is the host:port Run serves on (config regions[].gateway_listen).
	Listen string
	// Router answers where each user goes. Required.
	Router *router.Router
	// Inflight tracks admitted writes for Settle. Pass the one whose
	// Settle is the router's Config.Settle; nil makes a new one (then
	// the router must be given the gateway's Settle some other way).
	Inflight *router.Inflight
	// Endpoints maps a region to its application base URL (config
	// regions[].app); it must cover every region the router can answer.
	Endpoints map[string]string
	// UserHeader, UserCookie and UserQuery say where the user key is,
	// tried in that order; at least one must be set.
	UserHeader string
	UserCookie string
	UserQuery  string
	// DefaultRegion receives requests without a user key; empty answers
	// them 400.
	DefaultRegion string
	// Region is the gateway's own region: reads whose level allows it
	// (ReadLevels, the X-Consistency header) are served by its
	// application. Empty: every read goes to its owner (strong).
	Region string
	// Replica says how far Region has applied the other regions' writes
	// (bounded and session reads); nil: such reads go to their owner.
	Replica Replica
	// ReadLevels set the level of reads by route (config
	// router.read_levels); a request's X-Consistency header overrides it.
	ReadLevels []config.ReadLevel
	// SessionWait bounds a session read's wait for Region to apply the
	// client's last write (default 200ms).
	SessionWait time.Duration
	// GlobalWrites are the routes that write a global table (config
	// router.global_writes): proxied to the table's home region.
	GlobalWrites []config.GlobalWrite
	// RetryAfter is what a refused write is told to wait, rounded up to
	// whole seconds, at least 1.
	RetryAfter time.Duration
	// Transport carries requests to the applications (default: a clone of
	// http.DefaultTransport keeping up to 256 idle connections per app).
	Transport http.RoundTripper
	// Logger receives the gateway's logs (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the gateway's metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// DefaultConfig returns a Config with the deployment defaults: the user
// key in header X-User-Id, refused writes told to retry after 1s.
func DefaultConfig() Config {
	return Config{UserHeader: "X-User-Id", RetryAfter: time.Second, SessionWait: 200 * time.Millisecond}
}

// FromDeployment returns the gateway config of region in dep: listen
// address, user key places, default region, retry hint and every
// region's application URL. Router, Inflight, Logger and Registerer are
// left for the caller.
func FromDeployment(dep *config.Config, region string) (Config, error) {
	r, ok := dep.Region(region)
	if !ok {
		return Config{}, fmt.Errorf("gateway: region %q is not in the config: use one of %v", region, dep.RegionNames())
	}
	c := DefaultConfig()
	c.Listen = r.GatewayListen
	c.UserHeader, c.UserCookie, c.UserQuery = dep.Router.UserHeader, dep.Router.UserCookie, dep.Router.UserQuery
	c.DefaultRegion = dep.Router.DefaultRegion
	c.GlobalWrites = dep.Router.GlobalWrites
	c.Region, c.ReadLevels, c.SessionWait = region, dep.Router.ReadLevels, dep.Router.SessionWait
	if dep.Router.RetryAfter > 0 {
		c.RetryAfter = dep.Router.RetryAfter
	}
	c.Endpoints = make(map[string]string, len(dep.Regions))
	for _, rg := range dep.Regions {
		c.Endpoints[rg.Name] = rg.App
	}
	return c, nil
}

// Validate reports every field that makes c unusable, each by name.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gateway: "+format, args...)) }
	if c.Router == nil {
		bad("Config.Router is nil: pass the router.Router that follows the routing table")
	}
	if c.UserHeader == "" && c.UserCookie == "" && c.UserQuery == "" {
		bad("Config.UserHeader, UserCookie and UserQuery are all empty: set at least one (config router.user_header), e.g. X-User-Id")
	}
	if c.UserHeader != "" && strings.ContainsAny(c.UserHeader, " :\t\r\n") {
		bad("Config.UserHeader %q is not an HTTP header name: write e.g. X-User-Id (config router.user_header)", c.UserHeader)
	}
	if strings.ContainsAny(c.UserCookie, " ;=,\t\r\n") {
		bad("Config.UserCookie %q is not a cookie name: write e.g. uid (config router.user_cookie)", c.UserCookie)
	}
	if strings.ContainsAny(c.UserQuery, " &=#?\t\r\n") {
		bad("Config.UserQuery %q is not a query parameter name: write e.g. user_id (config router.user_query)", c.UserQuery)
	}
	for i, l := range c.ReadLevels {
		if _, _, err := config.ParseReadLevel(l.Level); err != nil {
			bad("Config.ReadLevels[%d].Level: %v (config router.read_levels)", i, err)
		}
	}
	if err := validGlobalWrites(c.GlobalWrites); err != nil {
		errs = append(errs, err)
	}
	if c.RetryAfter < 0 {
		bad("Config.RetryAfter %s is negative: write e.g. 1s (config router.retry_after)", c.RetryAfter)
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			bad("Config.Listen %q is not host:port: write e.g. 127.0.0.1:8080 (config regions[].gateway_listen)", c.Listen)
		}
	}
	if len(c.Endpoints) == 0 {
		bad("Config.Endpoints is empty: map every region to its application URL (config regions[].app)")
	}
	names := make([]string, 0, len(c.Endpoints))
	for name := range c.Endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := c.Endpoints[name]
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("Config.Endpoints[%q] %q is not an http(s) URL: write the region's application base URL, e.g. http://10.0.0.9:8080 (config regions[].app)", name, raw)
		}
	}
	if c.DefaultRegion != "" {
		if _, ok := c.Endpoints[c.DefaultRegion]; !ok {
			bad("Config.DefaultRegion %q has no entry in Endpoints: use one of %v, or leave it empty to answer requests without a user key 400 (config router.default_region)", c.DefaultRegion, names)
		}
	}
	return errors.Join(errs...)
}

// retryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1.
func (c Config) retryAfterSeconds() int {
	s := int((c.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}
