package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/binlog"
)

// ErrBinlogBehind means a region's binlog does not hold what its capture
// already published: its data folder was lost or restored from an older
// backup, and capture cannot resume from its checkpoint.
var ErrBinlogBehind = errors.New("the binlog is behind what capture published")

// CheckBinlog runs before a region's capture resumes from published, the
// GTID set it had published. When the server's binlog holds it, nothing
// is done. When it does not (a server whose data folder was lost, and
// that a rebuild has filled again), the binlog's numbering is continued
// from published: the binlog is reset and its GTID state set to it
// (MariaDB's gtid_binlog_state), so that capture resumes there and the
// region's next transactions follow the ones the other regions have.
// That is done only after a finished rebuild (RebuildsTable) and only
// once; otherwise the error names the fix.
func CheckBinlog(ctx context.Context, db *sql.DB, flavor, published string, log *slog.Logger) error {
	if published == "" {
		return nil // capture never published: it starts at the binlog's end
	}
	end, err := binlog.End(ctx, db, flavor)
	if err != nil {
		return err
	}
	if ok, err := binlog.Covers(flavor, end, published); err != nil || ok {
		if ok {
			_, err = db.ExecContext(ctx, `UPDATE `+RebuildsTable+` SET binlog_checked_at = UTC_TIMESTAMP(6), binlog_note = 'the binlog holds what capture published' WHERE done_at IS NOT NULL AND binlog_checked_at IS NULL`)
			if missingTable(err) {
				err = nil
			}
		}
		return err
	}
	var id int64
	err = db.QueryRowContext(ctx, `SELECT id FROM `+RebuildsTable+` WHERE done_at IS NOT NULL AND binlog_checked_at IS NULL ORDER BY id DESC LIMIT 1`).Scan(&id)
	if missingTable(err) || errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: the server's binlog ends at %q, which does not hold %q: its data was lost or restored from an older backup. Rebuild the region (regionctl region rebuild NAME --donor REGION): its capture then continues the binlog's numbering", ErrBinlogBehind, end, published)
	}
	if err != nil {
		return fmt.Errorf("seed: read %s: %w", RebuildsTable, err)
	}
	if flavor != mysql.MariaDBFlavor {
		return fmt.Errorf("%w: the server's binlog ends at %q, which does not hold %q; continuing a MySQL server's GTIDs after a rebuild is not built (SET GLOBAL gtid_purged on an empty server would be the way)", ErrBinlogBehind, end, published)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer discard(conn)
	note := fmt.Sprintf("the binlog ended at %q without what capture had published (%q): reset and continued from it", end, published)
	// Under a global read lock: the region's appliers may be committing,
	// and the state can only be set on an empty binlog.
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fmt.Errorf("seed: lock the server to continue its binlog after rebuild %d: %w", id, err)
	}
	_, err = conn.ExecContext(ctx, "RESET MASTER")
	if err == nil {
		_, err = conn.ExecContext(ctx, "SET GLOBAL gtid_binlog_state = ?", published)
	}
	if _, uerr := conn.ExecContext(ctx, "UNLOCK TABLES"); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("seed: continue the binlog from %q after rebuild %d: %w", published, id, err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `UPDATE `+RebuildsTable+` SET binlog_checked_at = UTC_TIMESTAMP(6), binlog_from = ?, binlog_note = ? WHERE id = ?`, published, note, id); err != nil {
		return fmt.Errorf("seed: record the binlog continued: %w", err)
	}
	if log != nil {
		log.Warn("binlog continued after a rebuild", "rebuild", id, "was", end, "now", published)
	}
	return nil
}

// ContinuedFrom returns the GTID set the region's binlog was last
// continued from by a rebuild (CheckBinlog) and when, "" if it never was:
// what the region had committed before it and not published is gone with
// its data.
func ContinuedFrom(ctx context.Context, db *sql.DB) (from string, at time.Time, err error) {
	var us int64
	err = db.QueryRowContext(ctx, `SELECT binlog_from, CAST(UNIX_TIMESTAMP(binlog_checked_at) * 1000000 AS SIGNED) FROM `+RebuildsTable+`
		WHERE binlog_from IS NOT NULL ORDER BY id DESC LIMIT 1`).Scan(&from, &us)
	if missingTable(err) || errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return from, time.UnixMicro(us).UTC(), err
}
