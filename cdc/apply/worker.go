package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/retry"
)

// loadCheckpoint reads a partition's row in _region.apply_checkpoints
// (Offset -1 when there is none yet).
func loadCheckpoint(ctx context.Context, db *sql.DB, source string, part int32) (Checkpoint, error) {
	var cp Checkpoint
	var st sql.NullString
	// UNIX_TIMESTAMP reads the stored instant whatever the session's time zone.
	err := db.QueryRowContext(ctx, `SELECT kafka_offset, seq, pos, gtid, UNIX_TIMESTAMP(source_time) FROM `+binlog.MetaSchema+`.apply_checkpoints WHERE source = ? AND part = ?`,
		source, part).Scan(&cp.Offset, &cp.Seq, &cp.Pos, &cp.GTID, &st)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Checkpoint{Offset: -1}, nil
	case err != nil:
		return cp, fmt.Errorf("apply: read checkpoint of %s/%d: %w", source, part, err)
	}
	if st.Valid {
		if cp.SourceTime, err = parseUnix(st.String); err != nil {
			return cp, fmt.Errorf("apply: checkpoint of %s/%d: source_time %q: %w", source, part, st.String, err)
		}
	}
	return cp, nil
}

// parseUnix parses "1763862950.633038" exactly (no float rounding).
func parseUnix(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var us int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		if us, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(n, us*1000).UTC(), nil
}

// The checkpoint is written as a compare-and-set: the row must still
// hold the offset this worker last wrote (no row: none yet), or another
// applier moved it and nothing of this transaction commits.
const (
	insertCheckpoint = `INSERT INTO ` + binlog.MetaSchema + `.apply_checkpoints
	(source, part, kafka_offset, seq, pos, gtid, source_time, applied_at, txns) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), ?)`
	updateCheckpoint = `UPDATE ` + binlog.MetaSchema + `.apply_checkpoints SET kafka_offset = ?, seq = ?, pos = ?, gtid = ?,
	source_time = ?, applied_at = UTC_TIMESTAMP(6), txns = txns + ? WHERE source = ? AND part = ? AND kafka_offset = ?`
)

// worker applies one partition on its own connection.
type worker struct {
	a    *Applier
	part int32
	conn *sql.Conn
	cp   Checkpoint
	frag []*event.Message // fragments of the transaction being received
	// saved is when the checkpoint row was last written, and stored the
	// offset it holds (-1: no row): every commit checks the row still
	// holds it (a compare-and-set), so that a worker of a stale session
	// (or of a second applier of the link, a mistake) cannot apply a
	// message another worker applies too.
	saved  time.Time
	stored int64
	// tombs are the deletes the transaction being applied lets stand, to
	// record (cdc/tombstone) just before its checkpoint: written last, so
	// the transaction waits for nothing while it holds their locks.
	tombs []tombstone.Tombstone
	// claims are the home-cell-wins changes the transaction being applied
	// makes, with their stamps (with three regions or more: origin.go),
	// written at commit.
	claims []claim.Claim
	// violations counts the ownership violations the transaction being
	// applied logged, counted in metrics once it commits.
	violations int
	// locking: the commit being retried after errNotFresh reads every key
	// it changes with a locking read, fresh inserts included.
	locking bool
}

// heartbeatSave is how often a heartbeat that moves nothing but time is
// written to the checkpoint table (it always updates the status).
const heartbeatSave = 5 * time.Second

// heartbeatMoveSave is how often a heartbeat that moves the watermark is
// written to the checkpoint table (capture sends one to an idle partition
// every 50ms while its source writes).
const heartbeatMoveSave = 250 * time.Millisecond

func newWorker(ctx context.Context, a *Applier, part int32) (*worker, error) {
	cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, part)
	if err != nil {
		return nil, err
	}
	w := &worker{a: a, part: part, cp: cp, stored: cp.Offset}
	return w, w.connect(ctx)
}

func (w *worker) connect(ctx context.Context) error {
	if w.conn != nil {
		w.conn.Close()
	}
	conn, err := w.a.cfg.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("apply: connect to target: %w", err)
	}
	if _, err := conn.ExecContext(ctx, sessionSQL); err != nil {
		conn.Close()
		return fmt.Errorf("apply: session settings: %w", err)
	}
	w.conn = conn
	return nil
}

func (w *worker) close() {
	if w.conn != nil {
		w.conn.Close()
	}
}

// handle applies one Kafka message as decide says; m is the message
// decoded, or nil to decode it here. An error halts the partition.
func (w *worker) handle(ctx context.Context, msg *sarama.ConsumerMessage, m *event.Message) error {
	if m == nil {
		var err error
		if m, err = event.Decode(msg.Value); err != nil {
			return fmt.Errorf("offset %d: %w", msg.Offset, err)
		}
	}
	since := time.Since(w.saved)
	d, frags, err := decide(w.cp, w.frag, m, w.input(msg.Offset, since < heartbeatSave, since < heartbeatMoveSave))
	w.frag = frags
	if err != nil {
		return err
	}
	switch d.step {
	case stepSkip, stepWait:
		if d.duplicate {
			w.a.m.duplicates.Inc()
		}
		return nil
	case stepNote:
		w.cp = d.next
		w.a.applied(w.part, w.cp, 0)
		return nil
	case stepSave:
		if d.discarded {
			w.a.m.discarded.Inc()
			w.a.log.Warn("transaction discarded by a failback (the failover's RPO): not applied", "gtid", m.Txn.GTID, "seq", m.Seq)
		}
		return w.commit(ctx, nil, d.next, 0)
	case stepDDL:
		return w.applyDDL(ctx, m, d.next)
	}
	txn, err := w.unseeded(msg.Offset, d.txn)
	if err != nil {
		return err
	}
	if txn == nil {
		return w.commit(ctx, nil, d.next, 0) // a seeded copy holds all of it
	}
	body := func(tx *sql.Tx) error { return w.applyRows(ctx, tx, txn) }
	if err := w.commit(ctx, body, d.next, 1); err != nil {
		return fmt.Errorf("transaction %s (seq %d, offset %d): %w", m.Txn.GTID, m.Seq, msg.Offset, err)
	}
	w.a.m.txns.Inc()
	w.a.m.rows.Add(float64(len(txn.Txn.Rows)))
	return nil
}

// input is what decide needs to know of this partition for the message
// at offset.
func (w *worker) input(offset int64, quiet, recent bool) input {
	in := input{source: w.a.cfg.Source, offset: offset, quiet: quiet, recent: recent}
	if g := w.a.cfg.Gate; g != nil {
		in.discarded = g.Discarded
	}
	return in
}

// commit runs body (nil: nothing) and the checkpoint in one transaction,
// retrying transient failures (deadlock, lock wait, lost connection) with
// backoff (retry.Policy, 50ms to 5s); body must be safe to run again.
func (w *worker) commit(ctx context.Context, body func(*sql.Tx) error, next Checkpoint, txns int) error {
	waits := retry.New(50*time.Millisecond, 5*time.Second)
	unknown := 0
	defer func() { w.locking = false }()
	for attempt := 1; ; attempt++ {
		err := w.tryCommit(ctx, body, next, txns)
		if errors.Is(err, errNotFresh) && !w.locking {
			// A key inserted without a locking read was there: all of it
			// again, rolled back, every key read first.
			w.a.m.notFresh.Inc()
			w.locking = true
			continue
		}
		if err == nil {
			w.cp, w.saved, w.stored = next, time.Now(), next.Offset
			w.a.applied(w.part, next, txns)
			return nil
		}
		if unknownColumn(err) && unknown < 10 && ctx.Err() == nil {
			// A column this region just dropped: what the applier knows of
			// the table may be a moment old, or capture has not recorded
			// the drop yet (forTarget). Read again a few times before
			// halting on it.
			unknown++
			w.a.catalog.Forget()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if !transient(err) || ctx.Err() != nil {
			return err
		}
		w.a.log.Warn("apply failed, retrying", "partition", w.part, "attempt", attempt, "err", err)
		w.a.m.retries.Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waits.NextBackOff()):
		}
		if isConnErr(err) {
			if cerr := w.connect(ctx); cerr != nil {
				w.a.log.Warn("reconnect failed", "partition", w.part, "err", cerr)
			}
		}
	}
}

func (w *worker) tryCommit(ctx context.Context, body func(*sql.Tx) error, next Checkpoint, txns int) error {
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	w.tombs, w.claims, w.violations = w.tombs[:0], w.claims[:0], 0
	if body != nil {
		if err := body(tx); err != nil {
			return err
		}
	}
	if err := tombstone.Write(ctx, tx, w.tombs); err != nil {
		return err
	}
	if err := claim.Write(ctx, tx, w.claims); err != nil {
		return err
	}
	if err := w.saveCheckpoint(ctx, tx, next, txns); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if w.violations > 0 {
		w.a.m.violations.Add(float64(w.violations))
		w.a.mu.Lock()
		w.a.violations += w.violations
		w.a.mu.Unlock()
	}
	return nil
}

// ErrStaleSession is a commit whose partition's checkpoint row moved
// under it: another applier of the link applied past it. Nothing is
// applied; the session starts again from the row.
var ErrStaleSession = errors.New("stale apply session")

// saveCheckpoint writes next as the partition's checkpoint in tx, if the
// row still holds the offset this worker last wrote; else ErrStaleSession.
// Written last, it holds the row's lock only until the commit.
func (w *worker) saveCheckpoint(ctx context.Context, tx *sql.Tx, next Checkpoint, txns int) error {
	var st any
	if !next.SourceTime.IsZero() {
		st = next.SourceTime.UTC()
	}
	if w.stored < 0 {
		_, err := tx.ExecContext(ctx, insertCheckpoint, w.a.cfg.Source, w.part, next.Offset, next.Seq, next.Pos, next.GTID, st, txns)
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1062 {
			return fmt.Errorf("%w: partition %d's checkpoint was written by another applier since this worker found none", ErrStaleSession, w.part)
		}
		if err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		return nil
	}
	res, err := tx.ExecContext(ctx, updateCheckpoint, next.Offset, next.Seq, next.Pos, next.GTID, st, txns, w.a.cfg.Source, w.part, w.stored)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w: partition %d's checkpoint is no longer at offset %d, which this worker wrote: another applier moved it", ErrStaleSession, w.part, w.stored)
	}
	return nil
}

// unknownColumn reports MySQL's "Unknown column" (1054).
func unknownColumn(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1054
}

func transient(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1205, 1213, 1040, 1053, 2006, 2013: // lock wait, deadlock, too many connections, shutdown, gone away, lost
			return true
		}
		return false
	}
	return errors.Is(err, ErrLocalUnknown) || isConnErr(err)
}

func isConnErr(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 2006 || me.Number == 2013 || me.Number == 1053
	}
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sqlDriverBadConn)
}

// StoredStatus is link source -> target as target's database holds it:
// each of the topic's partitions with its checkpoint (offset -1 where
// nothing was applied yet) and the link's watermark, the same figures
// Applier.Status reports, without a live applier (it may be stopped,
// restarting or holding its source). What the database holds is what was
// durably applied.
func StoredStatus(ctx context.Context, db *sql.DB, source, target string, partitions int32) (LinkStatus, error) {
	st := LinkStatus{From: source, To: target, State: "stored"}
	for p := int32(0); p < partitions; p++ {
		cp, err := loadCheckpoint(ctx, db, source, p)
		if err != nil {
			return st, err
		}
		st.Partitions = append(st.Partitions, PartitionStatus{Partition: p, State: "stored", Checkpoint: cp})
		if p == 0 || cp.Seq < st.AppliedSeq {
			st.AppliedSeq, st.AppliedGTID = cp.Seq, cp.Pos
		}
	}
	return st, nil
}
