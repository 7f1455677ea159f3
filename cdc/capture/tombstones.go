package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/tombstone"
)

// The region's own deletes of versioned rows are recorded as
// tombstones (cdc/tombstone), and its own changes of home-cell-wins rows
// as claims (cdc/claim), as capture reads them, before they are
// published; the region's appliers wait for that (Recorded) before they
// decide a change of a key the region lacks, or one that ties with the
// region's own change.

// expireEvery is how often capture deletes expired tombstones.
const expireEvery = time.Hour

// startRecording creates the tombstone and claim tables and marks from,
// where this run starts reading, as recorded: an earlier run recorded
// everything before it.
func (c *Capture) startRecording(ctx context.Context, from string) error {
	if c.cfg.Versioned == nil {
		return nil
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS " + binlog.MetaSchema, tombstone.Schema, claim.Schema} {
		if _, err := c.cfg.Catalog.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("capture: create the tombstone and claim tables: %w", err)
		}
	}
	c.setRecorded(from)
	return nil
}

// record records the tombstones of the region's own deletes and the
// claims of its own home-cell-wins changes in batch, then marks the
// batch's end as recorded.
func (c *Capture) record(ctx context.Context, batch []binlog.Item) error {
	if c.cfg.Versioned == nil {
		return nil
	}
	var ts []tombstone.Tombstone
	var cs []claim.Claim
	pos := ""
	for _, it := range batch {
		if it.Txn != nil && !it.Echo {
			ts = append(ts, tombstone.Collect(it.Txn, c.cfg.Region, c.cfg.Versioned)...)
			if c.cfg.HomeCell != nil {
				cs = append(cs, claim.Collect(it.Txn, c.cfg.Region, it.Time, c.cfg.HomeCell)...)
			}
		}
		if it.Pos != "" {
			pos = it.Pos
		}
	}
	if err := tombstone.Write(ctx, c.cfg.Catalog.DB, ts); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if err := claim.Write(ctx, c.cfg.Catalog.DB, cs); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	c.m.tombstones.Add(float64(len(ts)))
	if pos != "" {
		c.setRecorded(pos)
	}
	return nil
}

// expire deletes tombstones and claims older than tombstone.Retention,
// at most once every expireEvery.
func (c *Capture) expire(ctx context.Context) error {
	if c.cfg.Versioned == nil || time.Since(c.expired) < expireEvery {
		return nil
	}
	c.expired = time.Now()
	cutoff := time.Now().Add(-tombstone.Retention)
	n, err := tombstone.Expire(ctx, c.cfg.Catalog.DB, cutoff, 10000)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	m, err := claim.Expire(ctx, c.cfg.Catalog.DB, cutoff, 10000)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	if n+m > 0 {
		c.log.Info("expired tombstones and claims", "tombstones", n, "claims", m, "retention", tombstone.Retention)
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

// Recorded returns once every delete (and home-cell-wins change)
// committed in the region before the call is recorded as a tombstone
// (and a claim), or an error when capture is not running or ctx ends
// first (apply.LocalRecords).
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
