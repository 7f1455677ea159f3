package liveness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Member.
type Config struct {
	// Name is the member's unique name in the gossip, e.g. "regiond-a".
	Name string
	// Region is the member's region; empty for the witness.
	Region string
	// Role is RoleRegiond or RoleWitness.
	Role string
	// APIURL is the member's HTTP API, published in its meta.
	APIURL string
	// BindAddr and BindPort are where memberlist listens (UDP and TCP on
	// the same port); port 0 picks a free one (see Member.Addr).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort, if set, are what others dial.
	AdvertiseAddr string
	AdvertisePort int
	// Join lists host:port of other members. Run keeps retrying while it
	// knows no other member.
	Join []string
	// Regions are all the deployment's regions.
	Regions []string
	// Observers are all the members of the gossip, this one included:
	// member name -> its region ("" for the witness). A region is declared
	// failed only by a majority of the observers outside it, counted from
	// this list, never from whoever happens to be reachable.
	Observers map[string]string
	// ProbeMySQL checks that region's MySQL answers from here. It is called
	// from one goroutine per region, every MySQLInterval, with a context
	// bounded by MySQLTimeout.
	ProbeMySQL    func(ctx context.Context, region string) error
	MySQLInterval time.Duration
	MySQLTimeout  time.Duration
	// ViewInterval is how often the member recomputes and gossips its view
	// and runs its Detector.
	ViewInterval time.Duration
	// SilentAfter: a regiond whose views have not arrived for this long
	// counts as not alive, even while the gossip still lists it (memberlist
	// declares a killed member dead only after probing it and a suspicion
	// timeout, ~0.75 s with DefaultConfig). A member not heard from yet
	// counts by the gossip alone. It must exceed ViewInterval.
	SilentAfter time.Duration
	// JoinRetry is the pause between join attempts.
	JoinRetry time.Duration
	// LeaveTimeout bounds the graceful leave when Run ends; 0 stops
	// without leaving, as a crash would (the others then find the member
	// dead by probing).
	LeaveTimeout time.Duration

	// memberlist's failure detector (see DefaultConfig).
	ProbeInterval           time.Duration
	ProbeTimeout            time.Duration
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	GossipInterval          time.Duration
	PushPullInterval        time.Duration
	// SecretKey, if set (16, 24 or 32 bytes), encrypts the gossip.
	SecretKey []byte

	// Detector decides failures from the views.
	Detector DetectorConfig
	// OnEvent, if set, is called from Run's goroutine with every event of
	// the Detector. It must not block for long.
	OnEvent func(Event)
	// WrapTransport, if set, wraps memberlist's network transport (tests
	// use it to drop a member's packets: see FaultyTransport).
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// Clock gives the time for the Detector; nil means time.Now.
	Clock func() time.Time
	// Logger receives the member's and memberlist's logs; nil discards.
	Logger *slog.Logger
	// Metrics; nil records nothing.
	Metrics *Metrics
}

// DefaultConfig returns settings for fast detection between a few regions:
// memberlist probes every 200 ms with a 100 ms timeout, suspicion
// multiplier 2 (capped at 2x), which marked a killed member dead in ~0.75 s
// on loopback (memberlist's LAN defaults: 5.8-6.8 s). Between regions with
// RTTs above ~50 ms raise ProbeTimeout to a few RTTs (ProbeInterval with
// it). Views go out every 200 ms, gossiped every 100 ms (each view reaches
// every member in its first round; 50 ms cost an idle lab 14% more CPU),
// and MySQL is probed every 500 ms (1 s timeout); a regiond silent for
// 500 ms (two and a half view intervals) counts as gone; the Detector then
// waits FailAfter (3 s).
func DefaultConfig(name, region, role string) Config {
	return Config{
		Name:                    name,
		Region:                  region,
		Role:                    role,
		BindAddr:                "127.0.0.1",
		MySQLInterval:           500 * time.Millisecond,
		MySQLTimeout:            time.Second,
		ViewInterval:            200 * time.Millisecond,
		SilentAfter:             500 * time.Millisecond,
		JoinRetry:               time.Second,
		LeaveTimeout:            500 * time.Millisecond,
		ProbeInterval:           200 * time.Millisecond,
		ProbeTimeout:            100 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 2,
		GossipInterval:          100 * time.Millisecond,
		PushPullInterval:        5 * time.Second,
		Detector:                DefaultDetectorConfig(),
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Name == "" {
		add("liveness: Name is required")
	}
	switch c.Role {
	case RoleRegiond:
		if c.Region == "" {
			add("liveness: a regiond needs its Region")
		}
	case RoleWitness:
		if c.Region != "" {
			add("liveness: the witness has no Region (got %q)", c.Region)
		}
	default:
		add("liveness: Role %q is not %q or %q", c.Role, RoleRegiond, RoleWitness)
	}
	if net.ParseIP(c.BindAddr) == nil {
		add("liveness: BindAddr %q is not an IP address", c.BindAddr)
	}
	if len(c.Regions) == 0 {
		add("liveness: Regions is empty")
	}
	found := c.Region == ""
	for _, r := range c.Regions {
		found = found || r == c.Region
	}
	if !found {
		add("liveness: Region %q is not in Regions %q", c.Region, c.Regions)
	}
	if r, ok := c.Observers[c.Name]; !ok || r != c.Region {
		add("liveness: Observers must list this member (%q) with its region %q", c.Name, c.Region)
	}
	for o, r := range c.Observers {
		in := r == ""
		for _, x := range c.Regions {
			in = in || x == r
		}
		if !in {
			add("liveness: Observers[%q]: region %q is not in Regions", o, r)
		}
	}
	if c.ProbeMySQL == nil {
		add("liveness: ProbeMySQL is required")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MySQLInterval", c.MySQLInterval}, {"MySQLTimeout", c.MySQLTimeout}, {"ViewInterval", c.ViewInterval},
		{"JoinRetry", c.JoinRetry}, {"ProbeInterval", c.ProbeInterval}, {"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval}, {"PushPullInterval", c.PushPullInterval}} {
		if d.v <= 0 {
			add("liveness: %s must be positive", d.name)
		}
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		add("liveness: ProbeTimeout (%s) must be below ProbeInterval (%s)", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 || c.SuspicionMaxTimeoutMult < 1 {
		add("liveness: SuspicionMult and SuspicionMaxTimeoutMult must be at least 1")
	}
	if c.SilentAfter <= c.ViewInterval {
		add("liveness: SilentAfter (%s) must exceed ViewInterval (%s)", c.SilentAfter, c.ViewInterval)
	}
	if c.Detector.StaleAfter <= c.ViewInterval {
		add("liveness: Detector.StaleAfter (%s) must exceed ViewInterval (%s)", c.Detector.StaleAfter, c.ViewInterval)
	}
	if n := len(c.SecretKey); n != 0 && n != 16 && n != 24 && n != 32 {
		add("liveness: SecretKey must be 16, 24 or 32 bytes, not %d", n)
	}
	if err := c.Detector.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
