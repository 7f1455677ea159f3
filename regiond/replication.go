package regiond

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/preflight"
	"github.com/regionplatform/region/retry"
	"github.com/regionplatform/region/router"
)

// replication is this region's share of CDC: the capture of its own
// binlog, and an applier for every other region's stream (link src->me).
type replication struct {
	capture  *capture.Capture
	appliers []*apply.Applier
	// bySource is the applier of each source region.
	bySource map[string]*apply.Applier
}

// newReplication builds capture and appliers; it connects to nothing yet.
func (d *Daemon) newReplication() (*replication, error) {
	cfg, me := d.cfg.Deployment, d.region
	rc, err := binlogConfig(cfg, d.dialer, me.Name, me.MySQL.ServerID)
	if err != nil {
		return nil, err
	}
	rc.Logger, rc.AppliedDDL = d.log, apply.AppliedDDL(d.db)
	reader, err := binlog.NewReader(rc)
	if err != nil {
		return nil, err
	}
	rep := &replication{bySource: map[string]*apply.Applier{}}
	// The appliers judge ownership by the routing history; the router
	// (made after them) tells it of new versions.
	history := router.NewHistory(d.store, func() *router.Table {
		if d.router == nil {
			return nil
		}
		return d.router.Table()
	})
	// One cache of what the region's tables are: capture forgets it at
	// every schema change it reads, the region's own included, and the
	// appliers into the region use it.
	tables := &catalog.Cache{DB: d.db}
	rep.capture, err = capture.New(capture.Config{Region: me.Name, Reader: reader, Kafka: d.kafka(me.Name, capture.ProducerConfig), PublishWait: cfg.Replication.PublishWait,
		Switching:   func() bool { return d.router != nil && d.router.Switching() },
		Checkpoints: d.checkpoints(me.Name), Catalog: tables, Versioned: cfg.Replication.Versioned, HomeCell: cfg.Replication.HomeCell, Preflight: d.sourcePreflight, Logger: d.log, Metrics: d.reg,
		CheckBinlog: func(ctx context.Context, published string) error {
			return seed.CheckBinlog(ctx, d.db, me.MySQL.Flavor, published, d.log)
		}})
	if err != nil {
		return nil, err
	}
	for _, src := range cfg.Regions {
		if src.Name == me.Name {
			continue
		}
		ac := apply.Config{Source: src.Name, Target: me.Name, DB: d.db, Flavor: me.MySQL.Flavor, Catalog: tables, Kafka: d.kafka(src.Name, apply.ConsumerConfig),
			Tables: cfg.Replication.Tables, DefaultConflict: cfg.Replication.DefaultConflict, Buckets: cfg.Buckets, Owners: apply.OwnerFunc(d.owner()),
			Origins: len(cfg.Regions) > 2, Ownership: history, Local: rep.capture, Head: d.checkpoints(src.Name).Load, BatchWait: cfg.Replication.ApplyWait, Logger: d.log, Metrics: d.reg}
		if d.ctl != nil {
			ac.Gate = failover.NewGate(d.ctl.node, src.Name, src.MySQL.Flavor, d.log)
		}
		a, err := apply.New(ac)
		if err != nil {
			return nil, err
		}
		rep.appliers = append(rep.appliers, a)
		rep.bySource[src.Name] = a
	}
	return rep, nil
}

// binlogConfig is how to read region's binlog, as capture does, registering
// as replica serverID and connecting with dialer.
func binlogConfig(cfg *config.Config, dialer *dial.Dialer, region string, serverID uint32) (binlog.Config, error) {
	r, _ := cfg.Region(region)
	mc, err := dial.MySQLConfig(cfg, region)
	if err != nil {
		return binlog.Config{}, err
	}
	if mc.Net != "tcp" {
		return binlog.Config{}, fmt.Errorf("regions[%s].mysql.dsn: the binlog is read over TCP: use tcp(host:port)", region)
	}
	host, port, err := net.SplitHostPort(mc.Addr)
	if err != nil {
		return binlog.Config{}, fmt.Errorf("regions[%s].mysql.dsn: %w", region, err)
	}
	p, _ := strconv.Atoi(port)
	var dialFn func(context.Context, string, string) (net.Conn, error)
	if dialer.Relayed() {
		dialFn = dialer.DialContext
	}
	return binlog.Config{Flavor: r.MySQL.Flavor, Host: host, Port: uint16(p), User: mc.User, Password: mc.Passwd,
		TLS: mc.TLS, ServerID: serverID, Filter: binlog.NewFilter(cfg.Replication), Buckets: cfg.Buckets, Dial: dialFn}, nil
}

func (d *Daemon) checkpoints(region string) *capture.EtcdCheckpoints {
	return &capture.EtcdCheckpoints{Client: d.etcd, Key: capture.CheckpointKey(d.cfg.Deployment.Etcd.Prefix, region)}
}

// kafka returns a dialer for a region's Kafka with a role's settings.
func (d *Daemon) kafka(region string, role func(*sarama.Config)) func() (sarama.Client, error) {
	return func() (sarama.Client, error) {
		brokers, sc, err := d.dialer.Kafka(d.cfg.Deployment, region)
		if err != nil {
			return nil, err
		}
		role(sc)
		sc.ClientID = "regiond-" + d.region.Name
		return sarama.NewClient(brokers, sc)
	}
}

// components returns the replication's long-running parts, each restarted
// with backoff when it fails (the failure shows in status and metrics).
func (r *replication) components(d *Daemon) []component {
	out := []component{{"capture", func(ctx context.Context) error { return d.restarting(ctx, "capture", r.capture.Run) }}}
	for _, a := range r.appliers {
		out = append(out, component{"apply", func(ctx context.Context) error { return d.restarting(ctx, "apply", a.Run) }})
	}
	return out
}

// inbound is the applier of the link from -> this region, nil if none.
func (r *replication) inbound(from string) *apply.Applier {
	for _, a := range r.appliers {
		if a.Source() == from {
			return a
		}
	}
	return nil
}

// linkStatus reports every inbound link.
func (r *replication) linkStatus(ctx context.Context) []apply.LinkStatus {
	out := make([]apply.LinkStatus, 0, len(r.appliers))
	for _, a := range r.appliers {
		out = append(out, a.Status(ctx))
	}
	return out
}

// restarting runs fn until ctx ends, restarting it after a failure with
// backoff from 200ms to 2s (retry.Policy; reset after a minute of running).
// The cap bounds how long a link stays down once its source's broker is
// back (a killed region restarting): one retry costs a dial, and a 10 s
// cap left a drill's links 10 s behind after the failback. The same
// failure repeated is logged again at most every 30 s, so an outage does
// not flood the log.
func (d *Daemon) restarting(ctx context.Context, name string, fn func(context.Context) error) error {
	waits := retry.New(200*time.Millisecond, 2*time.Second)
	var last string
	var logged time.Time
	for ctx.Err() == nil {
		start := time.Now()
		err := fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("stopped")
		}
		if time.Since(start) > time.Minute {
			waits.Reset()
			last = ""
		}
		in := waits.NextBackOff()
		if msg := err.Error(); msg != last || time.Since(logged) > 30*time.Second {
			d.log.Error(name+" failed; restarting", "err", err, "in", in)
			last, logged = msg, time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(in):
		}
	}
	return nil
}

// sourcePreflight checks this region's MySQL (preflight.CheckSource,
// and its account's privileges) before capture starts: capture does not
// start on a setting that would lose data, and says which and how to fix
// it; what only limits something is logged as a warning.
func (d *Daemon) sourcePreflight(ctx context.Context) error {
	fs, err := preflight.Source(ctx, d.db, d.region.Name, d.region.MySQL.Flavor)
	if err != nil {
		return err
	}
	if grants, err := preflight.Grants(ctx, d.db); err == nil {
		fs = append(fs, preflight.CheckGrants(d.region.Name, d.region.MySQL.Flavor, grants)...)
	}
	for _, f := range preflight.Failed(fs, preflight.Warning) {
		if f.Severity != preflight.Fatal {
			d.log.Warn("preflight: "+f.Check+" is "+f.Got, "severity", f.Severity, "want", f.Want, "fix", f.Fix)
		}
	}
	return preflight.FatalError(fs)
}
