package regiond

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/retry"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// newRouter builds the daemon's router: it follows the routing table in
// etcd and registers as "regiond-REGION".
func (d *Daemon) newRouter() (*router.Router, error) {
	cfg := d.cfg.Deployment
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region, rc.Kind, rc.Logger = d.store, "regiond-"+d.region.Name, d.region.Name, "regiond", d.log
	rc.Endpoints = appEndpoints(cfg.Regions)
	// With a gateway, the router reports an epoch applied only once the
	// gateway's writes admitted under older tables have finished.
	inflight := gatewaySettle(d.region, d.log)
	if inflight != nil {
		rc.Settle = inflight.Settle
	}
	r, err := router.New(rc)
	d.replica = newReplica(d)
	if err != nil || inflight == nil {
		return r, err
	}
	if d.gateway, err = newGateway(cfg, d.region.Name, r, inflight, d.replica, d.reg, d.log); err != nil {
		return nil, err
	}
	return r, nil
}

// runRouter writes the first routing table if etcd has none (the
// deployment's starting placement; only one regiond's write wins), then
// follows the table until ctx ends.
func (d *Daemon) runRouter(ctx context.Context) error {
	waits := retry.New(200*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		created, err := d.store.Init(ictx, router.Initial(d.cfg.Deployment, time.Now()))
		if err == nil && created {
			d.log.Info("wrote the first routing table", "buckets", d.cfg.Deployment.Buckets, "cells", len(d.cfg.Deployment.Cells))
		}
		if err == nil {
			err = d.addPlaces(ictx)
		}
		cancel()
		if err == nil {
			break
		}
		in := waits.NextBackOff()
		d.log.Warn("cannot reach etcd to check the routing table; retrying", "err", err, "in", in)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(in):
		}
	}
	return d.router.Run(ctx)
}

// addPlaces adds to the routing table the regions and cells of the
// config it lacks, owning no bucket: a region added to a running
// deployment is in the table once every regiond runs the new config.
func (d *Daemon) addPlaces(ctx context.Context) error {
	var added []string
	_, err := d.store.Update(ctx, router.Change{Kind: "add-places", Actor: "regiond " + d.region.Name, Reason: "in the deployment config"}, func(t *router.Table) error {
		if added = t.AddPlaces(d.cfg.Deployment); len(added) == 0 {
			return errNoPlaces
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoPlaces):
		return nil
	case err != nil:
		return fmt.Errorf("add the config's new regions and cells to the routing table: %w", err)
	}
	d.log.Info("added the config's new regions and cells to the routing table, owning no bucket", "added", added)
	return nil
}

var errNoPlaces = errors.New("the routing table holds every region and cell of the config")

// ready is GET /readyz's check: this regiond can answer its API once its
// router has loaded the routing table; before, GET /v1/route and the
// gateway answer 503.
func (d *Daemon) ready() error {
	if d.router.Table() == nil {
		return errors.New("the routing table is not loaded yet (regiond reads it from etcd: check etcd in regionctl status)")
	}
	return nil
}

// appEndpoints maps each region to its application URL.
func appEndpoints(regions []config.Region) map[string]string {
	out := make(map[string]string, len(regions))
	for _, r := range regions {
		out[r.Name] = r.App
	}
	return out
}

// owner returns who owns a bucket for home-cell-wins: the region of its
// cell in the routing table the daemon serves, or, before the table is
// loaded, the deployment's starting placement.
func (d *Daemon) owner() func(topo.Bucket) string {
	start := d.cfg.Deployment.StartingOwner()
	return func(b topo.Bucket) string {
		if d.router != nil {
			if rt, ok := d.router.RouteBucket(b); ok {
				return rt.Region
			}
		}
		return start(b)
	}
}
