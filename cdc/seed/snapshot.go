package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/binlog"
)

// Snapshot is an open consistent snapshot of the donor on one connection,
// with the positions it reflects. Close it when done.
type Snapshot struct {
	conn *sql.Conn
	// Positions is what the snapshot reflects.
	Positions Positions
}

// Open starts a consistent snapshot of the donor region's MySQL (db) and
// reads, in it, the donor's GTID position and its inbound checkpoints.
// Only MariaDB donors are supported: MariaDB reports the binlog position
// of a consistent snapshot (binlog_snapshot_file and _position); MySQL 8
// would need performance_schema.log_status under a backup lock, which is
// not built.
func Open(ctx context.Context, db *sql.DB, donor, flavor string) (*Snapshot, error) {
	if flavor != mysql.MariaDBFlavor {
		return nil, fmt.Errorf("seed: a %s donor is not supported yet: the copy needs the binlog position of a consistent snapshot, which only MariaDB reports (use a MariaDB region as donor)", flavor)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed: connect to donor %s: %w", donor, err)
	}
	s := &Snapshot{conn: conn, Positions: Positions{Donor: donor, Flavor: flavor, Inbound: map[string]map[int32]Checkpoint{}}}
	if err := s.open(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("seed: snapshot of donor %s: %w", donor, err)
	}
	return s, nil
}

func (s *Snapshot) open(ctx context.Context) error {
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	} {
		if _, err := s.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var file string
	var pos uint64
	for name, dst := range map[string]any{"binlog_snapshot_file": &file, "binlog_snapshot_position": &pos} {
		var n string
		if err := s.conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&n, dst); err != nil {
			return fmt.Errorf("read %s (is the binlog on?): %w", name, err)
		}
	}
	if file == "" {
		return errors.New("the donor reports no binlog position for the snapshot: its binlog is off")
	}
	var gtid sql.NullString
	if err := s.conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&gtid); err != nil {
		return fmt.Errorf("BINLOG_GTID_POS(%s, %d): %w", file, pos, err)
	}
	if !gtid.Valid {
		return fmt.Errorf("BINLOG_GTID_POS(%s, %d) is NULL: the binlog file is gone", file, pos)
	}
	s.Positions.GTID = gtid.String
	rows, err := s.conn.QueryContext(ctx, `SELECT source, part, kafka_offset, seq, pos, gtid, CAST(UNIX_TIMESTAMP(source_time) * 1000000 AS SIGNED) FROM `+binlog.MetaSchema+`.apply_checkpoints`)
	if missingTable(err) {
		return nil // no applier ever ran there: it holds nothing of another source
	}
	if err != nil {
		return fmt.Errorf("read the donor's inbound checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var part int32
		var cp Checkpoint
		var us sql.NullInt64 // source_time in microseconds, exactly
		if err := rows.Scan(&src, &part, &cp.Offset, &cp.Seq, &cp.Pos, &cp.GTID, &us); err != nil {
			return fmt.Errorf("read the donor's inbound checkpoints: %w", err)
		}
		if us.Valid {
			cp.SourceTime = time.UnixMicro(us.Int64).UTC()
		}
		if s.Positions.Inbound[src] == nil {
			s.Positions.Inbound[src] = map[int32]Checkpoint{}
		}
		s.Positions.Inbound[src][part] = cp
	}
	return rows.Err()
}

// Close ends the snapshot and returns its connection.
func (s *Snapshot) Close() {
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
	discard(s.conn) // its isolation level and time zone were changed
}
