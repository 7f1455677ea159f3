package regiond

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/config"
)

// Sampling of the other regions' positions for bounded reads.
const (
	// sampleEvery is how often each other region's MySQL position is read
	// while bounded reads come in: a bounded read is served locally only
	// once a sample its bound allows is applied here, so this is the
	// staleness a local read starts from.
	sampleEvery = 50 * time.Millisecond
	// sampleKeep is how long samples are kept: a local copy older than
	// that is too stale for any bound worth serving locally.
	sampleKeep = 5 * time.Second
	// sampleIdle stops the sampling this long after the last bounded read.
	sampleIdle = 10 * time.Second
)

// replica answers the gateway's bounded and session reads
// (gateway.Replica): how far this region has applied each other region's
// writes, from its appliers' low watermarks. Staleness compares them with
// samples of the other regions' committed positions taken at known times
// (Run), as a read-your-timestamp check does: every transaction committed
// before a sample was taken is in its position, so once the local region
// has applied that position it holds everything older than the sample.
type replica struct {
	repl  *replication
	cfg   *config.Config
	peers *replicationView
	log   *slog.Logger

	wake chan struct{} // a bounded read came while sampling was idle
	mu   sync.Mutex
	// samples per other region, oldest first; asked is when a bounded
	// read last came.
	samples map[string][]sample
	asked   time.Time
}

// sample is a region's committed GTID set, read at a time.
type sample struct {
	at  time.Time // before the query was sent
	pos string
}

func newReplica(d *Daemon) *replica {
	return &replica{repl: d.repl, cfg: d.cfg.Deployment, peers: d.peers, log: d.log, wake: make(chan struct{}, 1), samples: map[string][]sample{}}
}

// Run samples every other region's position every sampleEvery while
// bounded reads come in, until ctx ends.
func (r *replica) Run(ctx context.Context) error {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		r.mu.Lock()
		idle := time.Since(r.asked) > sampleIdle
		r.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return nil
			case <-r.wake:
			}
		}
		for _, reg := range r.cfg.Regions {
			if reg.Name != r.peers.d.region.Name {
				r.sample(ctx, reg.Name)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sample reads region's position once and keeps it.
func (r *replica) sample(ctx context.Context, region string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	at := time.Now()
	pos, err := r.peers.Position(ctx, region)
	if err != nil {
		r.log.Debug("bounded reads: cannot read a region's position", "region", region, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ss := append(r.samples[region], sample{at: at, pos: pos})
	i := 0
	for i < len(ss)-1 && time.Since(ss[i].at) > sampleKeep {
		i++
	}
	r.samples[region] = ss[i:]
}

// Staleness is how old region from's data here may be: the age of the
// newest sample of from's position this region has applied; false while
// the link does not apply or no sample is applied (the read is then
// forwarded to the owner).
func (r *replica) Staleness(from string) (time.Duration, bool) {
	r.mu.Lock()
	if time.Since(r.asked) > sampleIdle {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	r.asked = time.Now()
	ss := r.samples[from]
	r.mu.Unlock()
	a := r.applier(from)
	if a == nil {
		return 0, false
	}
	f := a.Freshness()
	if !f.Running || f.AppliedGTID == "" {
		return 0, false
	}
	for i := len(ss) - 1; i >= 0; i-- {
		if ok, err := r.peers.Covers(from, f.AppliedGTID, ss[i].pos); err == nil && ok {
			return max(time.Since(ss[i].at), 0), true
		}
	}
	return 0, false
}

// Applied reports whether the link from region from has applied gtid.
func (r *replica) Applied(from, gtid string) bool {
	a := r.applier(from)
	if a == nil {
		return false
	}
	f := a.Freshness()
	if f.AppliedGTID == "" {
		return false
	}
	ok, err := r.peers.Covers(from, f.AppliedGTID, gtid)
	return err == nil && ok
}

func (r *replica) applier(from string) *apply.Applier {
	if r.repl == nil {
		return nil
	}
	return r.repl.bySource[from]
}
