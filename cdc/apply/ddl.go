package apply

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
)

var sqlDriverBadConn = driver.ErrBadConn

// barrier holds every partition of a link at a schema change until all
// have reached it, so the change is ordered with the data of every bucket.
type barrier struct {
	mu      sync.Mutex
	parts   int
	waiting map[uint64]*ddlWait
}

type ddlWait struct {
	arrived int
	done    chan struct{}
	err     error
}

func newBarrier() *barrier { return &barrier{waiting: map[uint64]*ddlWait{}} }

// reset starts a new session with n partitions.
func (b *barrier) reset(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.parts, b.waiting = n, map[uint64]*ddlWait{}
}

// wait blocks until all partitions arrived at seq; the last to arrive runs
// apply for everyone.
func (b *barrier) wait(ctx context.Context, seq uint64, apply func() error) error {
	b.mu.Lock()
	w := b.waiting[seq]
	if w == nil {
		w = &ddlWait{done: make(chan struct{})}
		b.waiting[seq] = w
	}
	w.arrived++
	last := w.arrived == b.parts
	b.mu.Unlock()
	if last {
		w.err = apply()
		close(w.done)
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyDDL runs a schema change once for the link: when every partition
// has reached it, and only if _region.apply_ddl does not record it done.
// DDL cannot share a transaction with the record, so a crash after it and
// before "done" runs it again; errors meaning "already done" are accepted.
func (w *worker) applyDDL(ctx context.Context, m *event.Message, next Checkpoint) error {
	db, src := w.a.cfg.DB, w.a.cfg.Source
	done, err := ddlApplied(ctx, db, src, m.Seq)
	if err != nil {
		return err
	}
	ran := 0 // the partition that runs the change counts it as applied
	if !done {
		err = w.a.ddl.wait(ctx, m.Seq, func() error {
			if done, err := ddlApplied(ctx, db, src, m.Seq); err != nil || done {
				return err
			}
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			// Announce the statement, from the connection that will run
			// it: capture in this region reads this row just before the
			// statement and skips the statement, even when the server
			// rewrites its text (MariaDB rewrites DROP TABLE, losing the
			// AppliedMarker comment).
			if _, err := conn.ExecContext(ctx, `INSERT INTO `+binlog.MetaSchema+`.apply_ddl (source, seq, gtid, stmt, applied_at, conn_id, state)
				VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), CONNECTION_ID(), 'started')
				ON DUPLICATE KEY UPDATE conn_id = CONNECTION_ID(), state = 'started'`, src, m.Seq, m.Txn.GTID, m.Txn.DDL.Statement); err != nil {
				return fmt.Errorf("apply: record schema change: %w", err)
			}
			if m.Txn.DDL.Schema != "" {
				// MariaDB records CREATE DATABASE x with x as its default
				// database: x does not exist yet, so run it without USE.
				if _, err := conn.ExecContext(ctx, "USE "+quote(m.Txn.DDL.Schema)); err != nil && !unknownDatabase(err) {
					return fmt.Errorf("schema change %s: USE %s: %w", m.Txn.GTID, m.Txn.DDL.Schema, err)
				}
			}
			if _, err := conn.ExecContext(ctx, binlog.AppliedMarker+" "+m.Txn.DDL.Statement); err != nil && !alreadyDone(err) {
				return fmt.Errorf("schema change %s (%q): %w", m.Txn.GTID, m.Txn.DDL.Statement, err)
			}
			// What the applier knew of the tables (keys, foreign keys,
			// columns) may have just changed.
			w.a.catalog.Forget()
			_, err = conn.ExecContext(ctx, `UPDATE `+binlog.MetaSchema+`.apply_ddl SET state = 'done', applied_at = UTC_TIMESTAMP(6) WHERE source = ? AND seq = ?`, src, m.Seq)
			w.a.log.Info("schema change applied", "gtid", m.Txn.GTID, "stmt", m.Txn.DDL.Statement)
			ran = 1
			return err
		})
		if err != nil {
			return err
		}
	}
	return w.commit(ctx, nil, next, ran)
}

func ddlApplied(ctx context.Context, db *sql.DB, source string, seq uint64) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.apply_ddl WHERE source = ? AND seq = ? AND state = 'done'`, source, seq).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("apply: read %s.apply_ddl: %w", binlog.MetaSchema, err)
	}
	return n > 0, nil
}

// isMissingTable: the table or its database does not exist.
func isMissingTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)
}

func unknownDatabase(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1049
}

// alreadyDone reports errors a schema change gives when it ran before:
// database or table exists, unknown table or database on drop, duplicate
// column or key, can't drop a missing column or key.
func alreadyDone(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1007, 1008, 1050, 1051, 1060, 1061, 1091:
		return true
	}
	return strings.Contains(me.Message, "already exists")
}

// AppliedDDL reports whether the schema change that connection thread of
// db's server ran at when was an applier's: an _region.apply_ddl row of
// that connection announced or finished within the window a schema
// change takes (binlog.Config.AppliedDDL).
func AppliedDDL(db *sql.DB) func(ctx context.Context, thread uint32, when time.Time) (bool, error) {
	return func(ctx context.Context, thread uint32, when time.Time) (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.apply_ddl
			WHERE conn_id = ? AND applied_at BETWEEN ? - INTERVAL 10 SECOND AND ? + INTERVAL 1 HOUR`, thread, when, when).Scan(&n)
		if isMissingTable(err) {
			return false, nil // no applier ever ran here
		}
		return n > 0, err
	}
}
