package apply

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/topo"
)

// Ownership judges whether a source transaction's writes of a bucket were
// made by the bucket's owner (router.History implements it): stamped by
// a data-access guard with epoch and cell, or, without a stamp (epoch
// 0), committed at t. It returns the epoch it judged by and why not, or
// "", and must judge a change alike whenever it is asked. CheckGlobal
// judges alike a write of a global table ("db.table") by its home.
type Ownership interface {
	Check(ctx context.Context, src string, b topo.Bucket, epoch uint64, cell string, t time.Time) (uint64, string, error)
	CheckGlobal(ctx context.Context, src, table string, epoch uint64, t time.Time) (uint64, string, error)
}

// ViolationsSchema creates the log of ownership violations.
const ViolationsSchema = `CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.violations (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	detected_at TIMESTAMP(6) NOT NULL,
	source VARCHAR(64) NOT NULL,
	target VARCHAR(64) NOT NULL,
	source_gtid VARCHAR(256) NOT NULL,
	source_time TIMESTAMP(6) NULL COMMENT 'the source commit time',
	epoch BIGINT UNSIGNED NOT NULL COMMENT 'the guard stamp''s routing epoch; 0: written without a guard',
	cell VARCHAR(64) NOT NULL COMMENT 'the guard stamp''s cell',
	bucket INT NOT NULL COMMENT '-1 - the table''s index in the transaction: a global table written outside its home',
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	pk VARCHAR(1024) NOT NULL,
	reason VARCHAR(512) NOT NULL,
	local_image MEDIUMTEXT NULL COMMENT 'the target row before the transaction applied',
	incoming_before MEDIUMTEXT NULL,
	incoming_after MEDIUMTEXT NULL,
	UNIQUE KEY (source, source_gtid, bucket),
	KEY (detected_at)
) ENGINE=InnoDB`

// checkOwnership logs, for every bucket the rows of t write (in tables
// with a shard column) and every global table they write, a write its
// source region was not allowed to make at the time (Config.Ownership):
// the source, the stamp or its absence, and the bucket's (or table's)
// first row with the target's row before it. It decides nothing: the
// table's policy then applies the rows as for any transaction. A write
// whose ownership cannot be judged (the routing history unreadable) is
// logged and applied.
func (w *worker) checkOwnership(ctx context.Context, tx *sql.Tx, m *event.Message, t *event.Txn) error {
	own := w.a.cfg.Ownership
	if own == nil {
		return nil
	}
	if err := w.checkGlobals(ctx, tx, m, t); err != nil {
		return err
	}
	if w.a.cfg.Buckets == 0 {
		return nil
	}
	seen := map[topo.Bucket]bool{}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		col := tb.ColIndex(w.a.policyOf(tb).shard)
		img := r.After
		if img == nil {
			img = r.Before
		}
		if col < 0 || len(tb.PK) == 0 {
			continue
		}
		b := topo.BucketOfString(img[col].Text(), w.a.cfg.Buckets)
		if seen[b] {
			continue
		}
		seen[b] = true
		_, why, err := own.Check(ctx, w.a.cfg.Source, b, t.Epoch, t.Cell, m.Time)
		if err != nil {
			// Replication does not wait for etcd: the write goes unjudged.
			w.a.log.Warn("cannot judge a write's ownership: the routing history is not readable", "gtid", t.GTID, "bucket", b, "err", err)
			continue
		}
		if why == "" {
			continue
		}
		local, _, err := currentRow(ctx, tx, tb, img)
		if err != nil {
			return err
		}
		if err := w.recordViolation(ctx, tx, m, t, int(b), tb, r, local, why); err != nil {
			return err
		}
		w.violations++
		w.a.log.Warn("ownership violation: a region wrote a bucket it did not own", "gtid", t.GTID, "bucket", b, "table", tb.Schema+"."+tb.Name, "key", tb.KeyText(img), "why", why)
	}
	return nil
}

// checkGlobals logs a write of a global table by a region that was not
// its home (or while a move fenced it), once per table of t.
func (w *worker) checkGlobals(ctx context.Context, tx *sql.Tx, m *event.Message, t *event.Txn) error {
	for i := range t.Tables {
		tb := &t.Tables[i]
		if !w.a.policyOf(tb).global {
			continue
		}
		var first *event.Row
		for j := range t.Rows {
			if t.Rows[j].T == i {
				first = &t.Rows[j]
				break
			}
		}
		if first == nil {
			continue
		}
		name := tb.Schema + "." + tb.Name
		_, why, err := w.a.cfg.Ownership.CheckGlobal(ctx, w.a.cfg.Source, name, t.Epoch, m.Time)
		if err != nil {
			w.a.log.Warn("cannot judge a write of a global table: the routing history is not readable", "gtid", t.GTID, "table", name, "err", err)
			continue
		}
		if why == "" {
			continue
		}
		img := first.After
		if img == nil {
			img = first.Before
		}
		var local string
		if len(tb.PK) > 0 {
			if local, _, err = currentRow(ctx, tx, tb, img); err != nil {
				return err
			}
		}
		if err := w.recordViolation(ctx, tx, m, t, -1-i, tb, *first, local, why); err != nil {
			return err
		}
		w.violations++
		w.a.log.Warn("ownership violation: a region wrote a global table outside its home", "gtid", t.GTID, "table", name, "why", why)
	}
	return nil
}

func (w *worker) recordViolation(ctx context.Context, tx *sql.Tx, m *event.Message, t *event.Txn, bucket int, tb *event.Table, r event.Row, local, why string) error {
	var loc, at any
	if local != "" {
		loc = tombstone.Printable(local)
	}
	if !m.Time.IsZero() {
		at = m.Time.UTC()
	}
	key := r.After
	if key == nil {
		key = r.Before
	}
	_, err := tx.ExecContext(ctx, `INSERT IGNORE INTO `+binlog.MetaSchema+`.violations
		(detected_at, source, target, source_gtid, source_time, epoch, cell, bucket, db, tbl, pk, reason, local_image, incoming_before, incoming_after)
		VALUES (UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.a.cfg.Source, w.a.cfg.Target, t.GTID, at, t.Epoch, t.Cell, bucket, tb.Schema, tb.Name, tombstone.Clip(tb.KeyText(key), 1024), tombstone.Clip(why, 512),
		loc, imageJSON(tb, r.Before), imageJSON(tb, r.After))
	if err != nil {
		return fmt.Errorf("log an ownership violation: %w", err)
	}
	return nil
}

// countViolations loads how many ownership violations the link logged.
func (a *Applier) countViolations(ctx context.Context) error {
	var n int
	if err := a.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.violations WHERE source = ?`, a.cfg.Source).Scan(&n); err != nil {
		return fmt.Errorf("apply: count ownership violations: %w", err)
	}
	a.mu.Lock()
	a.violations = n
	a.mu.Unlock()
	return nil
}
