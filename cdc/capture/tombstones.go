package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/tombstone"
)

// The region's own deletes of versioned rows are recorded as
// tombstones (cdc/tombstone) as capture reads them, before they are
// published; the region's appliers wait for that (Recorded) before they
// decide a change of a key the region lacks.

// expireEvery is how often capture deletes expired tombstones.
const expireEvery = time.Hour

// startRecording creates the tombstone table and marks from, where this
// run starts reading, as recorded: an earlier run recorded everything
// before it.
func (c *Capture) startRecording(ctx context.Context, from string) error {
	if c.cfg.Versioned == nil {
		return nil
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + binlog.MetaSchema, tombstone.Schema} {
		if _, err := c.cfg.Catalog.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("capture: create the tombstone table: %w", err)
		}
	}
	c.setRecorded(from)
	return nil
}

// recordDeletes records the tombstones of the region's own deletes in
// batch, then marks the batch's end as recorded.
func (c *Capture) recordDeletes(ctx context.Context, batch []binlog.Item) error {
	if c.cfg.Versioned == nil {
		return nil
	}
	var ts []tombstone.Tombstone
	pos := ""
	for _, it := range batch {
		if it.Txn != nil && !it.Echo {
			ts = append(ts, tombstone.Collect(it.Txn, c.cfg.Region, c.cfg.Versioned)...)
		}
		if it.Pos != "" {
			pos = it.Pos
		}
	}
	if err := tombstone.Write(ctx, c.cfg.Catalog.DB, ts); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	c.m.tombstones.Add(float64(len(ts)))
	if pos != "" {
		c.setRecorded(pos)
	}
	return nil
}

// expireTombstones deletes tombstones older than tombstone.Retention, at
// most once every expireEvery.
func (c *Capture) expireTombstones(ctx context.Context) error {
	if c.cfg.Versioned == nil || time.Since(c.expired) < expireEvery {
		return nil
	}
	c.expired = time.Now()
	n, err := tombstone.Expire(ctx, c.cfg.Catalog.DB, time.Now().Add(-tombstone.Retention), 10000)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if n > 0 {
		c.log.Info("expired tombstones", "deleted", n, "retention", tombstone.Retention)
	}
	return nil
}

func (c *Capture) setRecorded(pos string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recorded = pos
	close(c.recordedCh)
	c.recordedCh = make(chan struct{})
}

// Recorded returns once every delete committed in the region before the
// call is recorded as a tombstone, or an error when capture is not
// running or ctx ends first (apply.LocalDeletes).
func (c *Capture) Recorded(ctx context.Context) error {
	if c.cfg.Versioned == nil {
		return nil
	}
	flavor := c.cfg.Reader.Flavor()
	end, err := binlog.End(ctx, c.cfg.Catalog.DB, flavor)
	if err != nil {
		return fmt.Errorf("capture of %s: %w", c.cfg.Region, err)
	}
	for {
		c.mu.Lock()
		rec, changed, running := c.recorded, c.recordedCh, c.stats.Running
		c.mu.Unlock()
		if ok, err := binlog.Covers(flavor, rec, end); err != nil {
			return fmt.Errorf("capture of %s: %w", c.cfg.Region, err)
		} else if ok {
			return nil
		}
		if !running {
			return fmt.Errorf("capture of %s is not running, so its deletes after %q are not recorded", c.cfg.Region, rec)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("capture of %s has recorded its deletes up to %q, its binlog is at %q: %w", c.cfg.Region, rec, end, ctx.Err())
		case <-changed:
		}
	}
}
