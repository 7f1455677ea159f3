package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
)

// Kept is one table a rebuild kept aside.
type Kept struct {
	Table  string `json:"table"`
	KeptAs string `json:"kept_as"`
}

// Resuming reports whether the target holds a rebuild that was
// interrupted (prepared, not finished) or a copy that was: running the
// copy again finishes it, and nothing is to be prepared.
func Resuming(ctx context.Context, target *sql.DB) (bool, error) {
	var open int
	err := target.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+RebuildsTable+` WHERE done_at IS NULL`).Scan(&open)
	if err != nil && !missingTable(err) {
		return false, fmt.Errorf("seed: read %s: %w", RebuildsTable, err)
	}
	if open > 0 {
		return true, nil
	}
	recs, err := Records(ctx, target)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if r.State != StateDone {
			return true, nil
		}
	}
	return false, nil
}

// PrepareRebuild makes the target ready to be copied into afresh: each
// of its tables is kept aside, renamed into the platform's schema (its
// rows, which may hold transactions no other region has, stay for the
// operator: see KeptTable), its links' checkpoints and earlier copies'
// records are cleared, so that its links start from the new copies, and
// the rebuild is recorded (RebuildsTable), last. None of it reaches the
// target's binlog. The target's regiond must be stopped. Run again after
// a crash, it goes on where it stopped.
func PrepareRebuild(ctx context.Context, target *sql.DB, donor string, tables []string, reason string, now time.Time) ([]Kept, error) {
	conn, err := target.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed: connect to the target: %w", err)
	}
	defer discard(conn)
	if err := execAll(ctx, conn, "SET SESSION sql_log_bin = 0", "CREATE DATABASE IF NOT EXISTS "+binlog.MetaSchema, KeptSchema, Schema, RebuildsSchema); err != nil {
		return nil, fmt.Errorf("seed: prepare the target: %w", err)
	}
	var kept []Kept
	for i, t := range tables {
		k, err := keepAside(ctx, conn, t, fmt.Sprintf("kept_%d_%d", now.Unix(), i), reason, now)
		if err != nil {
			return kept, err
		}
		if k != nil {
			kept = append(kept, *k)
		}
	}
	for _, q := range []string{"DELETE FROM " + binlog.MetaSchema + ".apply_checkpoints", "DELETE FROM " + Table} {
		if _, err := conn.ExecContext(ctx, q); err != nil && !missingTable(err) {
			return kept, fmt.Errorf("seed: clear the target's link checkpoints: %s: %w", q, err)
		}
	}
	// Last: an open rebuild means the target is prepared (Resuming).
	if _, err := conn.ExecContext(ctx, `INSERT INTO `+RebuildsTable+` (donor, reason, started_at) VALUES (?, ?, ?)`, donor, reason, now.UTC()); err != nil {
		return kept, fmt.Errorf("seed: record the rebuild: %w", err)
	}
	return kept, nil
}

// keepAside renames table t of the target (conn, sql_log_bin=0) into the
// platform's schema as `as`, recorded in KeptTable with reason; nil when
// the target has no such table (kept by an earlier run, or never there).
func keepAside(ctx context.Context, conn *sql.Conn, t, as, reason string, now time.Time) (*Kept, error) {
	db, tbl, err := splitName(t)
	if err != nil {
		return nil, err
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, db, tbl).Scan(&n); err != nil {
		return nil, fmt.Errorf("seed: look for %s in the target: %w", t, err)
	}
	if n == 0 {
		return nil, nil
	}
	// Triggers cannot move to another database with their table; the
	// copy brings the donor's.
	if err := dropTriggers(ctx, conn, db, tbl); err != nil {
		return nil, fmt.Errorf("seed: keep %s aside: %w", t, err)
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO `+KeptTable+` (kept_as, db, tbl, kept_at, reason) VALUES (?, ?, ?, ?, ?)`, as, db, tbl, now.UTC(), reason); err != nil {
		return nil, fmt.Errorf("seed: record %s kept aside: %w", t, err)
	}
	if _, err := conn.ExecContext(ctx, "RENAME TABLE "+quoteName(db)+"."+quoteName(tbl)+" TO "+binlog.MetaSchema+"."+quoteName(as)); err != nil {
		return nil, fmt.Errorf("seed: keep %s aside as %s.%s: %w", t, binlog.MetaSchema, as, err)
	}
	return &Kept{Table: t, KeptAs: binlog.MetaSchema + "." + as}, nil
}

// PrepareSeed makes one table of a running target ready to be copied
// again: the table is kept aside (as PrepareRebuild keeps every table)
// and its earlier copy's record is cleared, so that the Copier copies it
// and the links' filter follows the new copy. The target's links into it
// must be paused (nothing applies to the table meanwhile). A table whose
// copy an earlier run began (its record says copying) is not kept aside:
// it is that partial copy, which the Copier replaces; kept is nil then.
func PrepareSeed(ctx context.Context, target *sql.DB, table, reason string, now time.Time) (*Kept, error) {
	conn, err := target.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed: connect to the target: %w", err)
	}
	defer discard(conn)
	if err := execAll(ctx, conn, "SET SESSION sql_log_bin = 0", "CREATE DATABASE IF NOT EXISTS "+binlog.MetaSchema, KeptSchema, Schema); err != nil {
		return nil, fmt.Errorf("seed: prepare the target: %w", err)
	}
	db, tbl, err := splitName(table)
	if err != nil {
		return nil, err
	}
	var state string
	err = conn.QueryRowContext(ctx, `SELECT state FROM `+Table+` WHERE db = ? AND tbl = ?`, db, tbl).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("seed: read %s's record: %w", table, err)
	case state == StateCopying:
		return nil, nil
	}
	kept, err := keepAside(ctx, conn, table, fmt.Sprintf("kept_%d_seed", now.UnixNano()), reason, now)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM `+Table+` WHERE db = ? AND tbl = ?`, db, tbl); err != nil {
		return kept, fmt.Errorf("seed: clear %s's earlier copy record: %w", table, err)
	}
	return kept, nil
}

// FinishRebuild records the target's open rebuild as done: its capture
// checks the binlog when it next starts (CheckBinlog).
func FinishRebuild(ctx context.Context, target *sql.DB, now time.Time) error {
	conn, err := target.Conn(ctx)
	if err != nil {
		return fmt.Errorf("seed: connect to the target: %w", err)
	}
	defer discard(conn)
	if err := execAll(ctx, conn, "SET SESSION sql_log_bin = 0", RebuildsSchema); err != nil {
		return fmt.Errorf("seed: record the rebuild done: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE `+RebuildsTable+` SET done_at = ? WHERE done_at IS NULL`, now.UTC()); err != nil {
		return fmt.Errorf("seed: record the rebuild done: %w", err)
	}
	return nil
}

func dropTriggers(ctx context.Context, conn *sql.Conn, db, tbl string) error {
	names, err := triggerNames(ctx, conn, db, tbl)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := conn.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+quoteName(db)+"."+quoteName(n)); err != nil {
			return fmt.Errorf("drop trigger %s: %w", n, err)
		}
	}
	return nil
}

// RebuildResult is what Rebuild did.
type RebuildResult struct {
	// Resumed says an interrupted rebuild was gone on with (nothing was
	// kept aside then: the first run did it).
	Resumed bool          `json:"resumed"`
	Kept    []Kept        `json:"kept"`
	Tables  []TableResult `json:"tables"`
}

// Rebuild fills the target with every table of cfg.Tables from the
// donor, as regionctl region rebuild does: unless the target holds an
// interrupted rebuild (Resuming), its tables are kept aside first
// (PrepareRebuild, with reason; kept, if set, is told each), then every
// table is copied (Copier) and the rebuild recorded finished
// (FinishRebuild). The target's regiond must be stopped. Run again after
// any interruption, it goes on.
func Rebuild(ctx context.Context, cfg Config, reason string, kept func(Kept)) (RebuildResult, error) {
	var res RebuildResult
	c, err := New(cfg)
	if err != nil {
		return res, err
	}
	if res.Resumed, err = Resuming(ctx, cfg.TargetDB); err != nil {
		return res, err
	}
	if !res.Resumed {
		if res.Kept, err = PrepareRebuild(ctx, cfg.TargetDB, cfg.Donor, cfg.Tables, reason, time.Now()); err != nil {
			return res, err
		}
		for _, k := range res.Kept {
			if kept != nil {
				kept(k)
			}
		}
	}
	if res.Tables, err = c.Run(ctx); err != nil {
		return res, err
	}
	return res, FinishRebuild(ctx, cfg.TargetDB, time.Now())
}
