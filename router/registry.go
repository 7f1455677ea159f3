package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Info is a live router's registration.
type Info struct {
	ID     string    `json:"id"`
	Region string    `json:"region"`
	Kind   string    `json:"kind"`
	Epoch  uint64    `json:"epoch"`
	Time   time.Time `json:"time"`
}

// registration keeps the router's key alive and its epoch current.
type registration struct {
	r *Router
}

func (g *registration) run(ctx context.Context, applied <-chan uint64) {
	var epoch uint64
	for ctx.Err() == nil {
		err := g.session(ctx, applied, &epoch)
		if ctx.Err() != nil {
			return
		}
		// The lease ran out: etcd has not heard from this router for its
		// TTL, so a switch or failover may already proceed without it.
		g.r.setStale(true)
		g.r.log.Warn("router registration lost; registering again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// session holds one lease and puts the router's key under it on every
// applied epoch, until the lease is lost or ctx ends. The key is deleted
// (the lease revoked) when ctx ends, so a stopped router stops counting.
func (g *registration) session(ctx context.Context, applied <-chan uint64, epoch *uint64) error {
	c, cfg := g.r.cfg.Store.c, g.r.cfg
	lease, err := c.Grant(ctx, int64(cfg.TTL/time.Second))
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = c.Revoke(rctx, lease.ID)
	}()
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	alive, err := c.KeepAlive(kctx, lease.ID)
	if err != nil {
		return fmt.Errorf("keep lease alive: %w", err)
	}
	key := cfg.Store.RoutersPrefix() + cfg.ID
	put := func() error {
		b, _ := json.Marshal(Info{ID: cfg.ID, Region: cfg.Region, Kind: cfg.Kind, Epoch: *epoch, Time: time.Now().UTC()})
		if _, err := c.Put(ctx, key, string(b), clientv3.WithLease(lease.ID)); err != nil {
			return err
		}
		if g.r.Stale() {
			// Registered again under a live lease: serve writes once the
			// table is known to be current.
			t, _, err := cfg.Store.Load(ctx)
			if err != nil {
				return err
			}
			g.r.publish(t)
			g.r.setStale(false)
		}
		return nil
	}
	if *epoch > 0 {
		if err := put(); err != nil {
			return err
		}
	}
	// The router must stop writes before etcd drops its registration, or
	// a switch that no longer sees it would not wait for it: etcd expires
	// the lease TTL after the last renewal it received, which came before
	// the last answer the router got, so the router gives up once no
	// answer came for TTL less silentMargin (the client library only
	// notices at its own, later deadline).
	last, margin := time.Now(), silentMargin(cfg.TTL)
	watchdog := time.NewTicker(margin / 4)
	defer watchdog.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-watchdog.C:
			if silent := time.Since(last); silent > cfg.TTL-margin {
				g.r.setStale(true) // now, not after the lease's revoke times out
				return fmt.Errorf("no lease renewal answered for %s (lease %s)", silent.Round(time.Millisecond), cfg.TTL)
			}
		case _, ok := <-alive:
			if !ok {
				return errors.New("lease keep-alive ended")
			}
			last = time.Now()
		case e := <-applied:
			*epoch = e
			if err := put(); err != nil {
				return fmt.Errorf("publish applied epoch %d: %w", e, err)
			}
		}
	}
}

// silentMargin is how long before its lease could expire in etcd a
// router stops writes: a fifth of the lease, at most a second.
func silentMargin(ttl time.Duration) time.Duration { return min(ttl/5, time.Second) }

// WatchRouters returns a channel that receives a value soon after the
// router registry changes (a router registers, reports an epoch, or
// expires), so a wait for routers need not poll. Values do not queue: one
// may stand for several changes. Once ctx ends or the watch fails it
// receives nothing more: a caller should still look again now and then.
func (s *Store) WatchRouters(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for resp := range s.c.Watch(clientv3.WithRequireLeader(ctx), s.RoutersPrefix(), clientv3.WithPrefix()) {
			if resp.Err() != nil {
				return
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}

// Routers lists the live routers and the epoch each has applied.
func (s *Store) Routers(ctx context.Context) ([]Info, error) {
	resp, err := s.c.Get(ctx, s.RoutersPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list routers: %w", err)
	}
	out := make([]Info, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var in Info
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			return nil, fmt.Errorf("router registration %s is damaged: %w", kv.Key, err)
		}
		out = append(out, in)
	}
	return out, nil
}
