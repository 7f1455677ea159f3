package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/binlog"
)

// Table is where the target records each table's copy.
const Table = binlog.MetaSchema + ".seed_tables"

// Schema creates Table.
const Schema = `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	donor VARCHAR(64) NOT NULL,
	positions MEDIUMTEXT NOT NULL COMMENT 'JSON: what the copy''s snapshot reflects (seed.Positions)',
	state VARCHAR(8) NOT NULL COMMENT 'copying, then done',
	copied BIGINT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'rows copied',
	started_at TIMESTAMP(6) NOT NULL,
	done_at TIMESTAMP(6) NULL,
	PRIMARY KEY (db, tbl)
) ENGINE=InnoDB`

// States of a Record.
const (
	StateCopying = "copying"
	StateDone    = "done"
)

// Record is one table's copy as the target recorded it.
type Record struct {
	DB, Table string
	Positions Positions
	State     string
	Copied    int64
	StartedAt time.Time
	DoneAt    time.Time
}

// Name is the table's "db.table".
func (r Record) Name() string { return r.DB + "." + r.Table }

// Records reads every table's copy recorded in the target (none when the
// table does not exist: nothing was ever seeded there).
func Records(ctx context.Context, db *sql.DB) ([]Record, error) {
	rows, err := db.QueryContext(ctx, `SELECT db, tbl, positions, state, copied, UNIX_TIMESTAMP(started_at), UNIX_TIMESTAMP(done_at) FROM `+Table+` ORDER BY db, tbl`)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("seed: read %s: %w", Table, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var pos string
		var started, done sql.NullFloat64
		if err := rows.Scan(&r.DB, &r.Table, &pos, &r.State, &r.Copied, &started, &done); err != nil {
			return nil, fmt.Errorf("seed: read %s: %w", Table, err)
		}
		if err := json.Unmarshal([]byte(pos), &r.Positions); err != nil {
			return nil, fmt.Errorf("seed: %s's positions for %s are damaged: %w", Table, r.Name(), err)
		}
		r.StartedAt, r.DoneAt = unix(started), unix(done)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Done returns the positions of every table whose copy is done, by
// "db.table": what a link into the target filters with (Filter).
func Done(rs []Record) map[string]Positions {
	out := map[string]Positions{}
	for _, r := range rs {
		if r.State == StateDone {
			out[r.Name()] = r.Positions
		}
	}
	return out
}

func missingTable(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)
}

func unix(f sql.NullFloat64) time.Time {
	if !f.Valid {
		return time.Time{}
	}
	return time.UnixMicro(int64(f.Float64 * 1e6)).UTC()
}

// KeptTable records the tables a rebuild kept aside (PrepareRebuild).
const KeptTable = binlog.MetaSchema + ".kept_tables"

// KeptSchema creates KeptTable.
const KeptSchema = `CREATE TABLE IF NOT EXISTS ` + KeptTable + ` (
	kept_as VARCHAR(64) NOT NULL PRIMARY KEY COMMENT 'the table''s name in ` + binlog.MetaSchema + ` now',
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	kept_at TIMESTAMP(6) NOT NULL,
	reason VARCHAR(512) NOT NULL
) ENGINE=InnoDB`

// RebuildsTable records every rebuild of the region (PrepareRebuild,
// FinishRebuild) and what its capture found of the binlog after it
// (CheckBinlog).
const RebuildsTable = binlog.MetaSchema + ".rebuilds"

// RebuildsSchema creates RebuildsTable.
const RebuildsSchema = `CREATE TABLE IF NOT EXISTS ` + RebuildsTable + ` (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	donor VARCHAR(64) NOT NULL,
	reason VARCHAR(512) NOT NULL,
	started_at TIMESTAMP(6) NOT NULL,
	done_at TIMESTAMP(6) NULL COMMENT 'every table copied',
	binlog_checked_at TIMESTAMP(6) NULL COMMENT 'when capture checked the binlog against what it had published',
	binlog_from VARCHAR(4096) NULL COMMENT 'the GTID set the binlog was continued from: what the region committed before it and had not published is lost',
	binlog_note VARCHAR(1024) NULL
) ENGINE=InnoDB`
