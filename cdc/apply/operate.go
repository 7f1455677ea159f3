package apply

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
)

// What an operator does with a halted link (regionctl link): retry once
// the cause is fixed, or skip the message a partition halted on, which
// is kept whole in _region.quarantine until someone resolves it.

// ErrNotHalted is returned for a skip on a partition that is not halted
// on a message.
var ErrNotHalted = errors.New("the partition is not halted on a message")

// Retry starts every halted partition again from its checkpoint: the
// message it halted on is applied again (after the operator fixed the
// cause). It returns the partitions it started.
func (a *Applier) Retry() []int32 {
	a.mu.Lock()
	var out []int32
	for p, ps := range a.parts {
		if ps.State == StateHalted {
			ps.State, ps.Error, ps.HaltedAt = StateRunning, "", 0
			out = append(out, p)
		}
	}
	restart := a.restart
	a.mu.Unlock()
	// The operator fixed the target's schema (a trigger guarded, a column
	// widened): read it again now, not when the cache expires.
	a.catalog.Forget()
	if len(out) > 0 && restart != nil {
		restart() // a new session resumes them from their checkpoints
	}
	return out
}

// Quarantined is a message an operator skipped.
type Quarantined struct {
	ID         int64      `json:"id"`
	Source     string     `json:"source"`
	Partition  int32      `json:"partition"`
	Offset     int64      `json:"offset"`
	Seq        uint64     `json:"seq"`
	GTID       string     `json:"gtid"`
	Error      string     `json:"error"`
	SkippedAt  time.Time  `json:"skipped_at"`
	SkippedBy  string     `json:"skipped_by"`
	Reason     string     `json:"reason"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	// Payload is the Kafka message, shown as JSON when it decodes (the
	// table keeps it as it was).
	Payload string `json:"payload"`
}

// showPayload renders a Kafka message for a person: as JSON when it
// decodes (whichever format it was written in), else as it is.
func showPayload(raw []byte) string {
	if m, err := event.Decode(raw); err == nil {
		if b, err := json.Marshal(m); err == nil {
			return string(b)
		}
	}
	return string(raw)
}

// Skip moves halted partition p past the message it halted on, without
// applying it: the message goes to _region.quarantine, and the
// partition's checkpoint moves past it, in one target transaction. Then
// the partition starts again. The skipped transaction's rows are missing
// in the target until someone repairs them (regionctl verify --repair).
func (a *Applier) Skip(ctx context.Context, p int32, actor, reason string) (*Quarantined, error) {
	a.mu.Lock()
	ps := a.parts[p]
	var halted PartitionStatus
	if ps != nil {
		halted = *ps
	}
	client := a.client
	a.mu.Unlock()
	if ps == nil || halted.State != StateHalted || halted.HaltedAt < 0 {
		return nil, fmt.Errorf("%w: partition %d of %s->%s is %s (skip only moves a partition past the message it halted on; retry the others)",
			ErrNotHalted, p, a.cfg.Source, a.cfg.Target, orState(ps))
	}
	if client == nil {
		return nil, errors.New("the link has no Kafka connection now: try again in a moment")
	}
	raw, err := readOne(client, a.topic, p, halted.HaltedAt)
	if err != nil {
		return nil, fmt.Errorf("read the halted message (partition %d, offset %d): %w", p, halted.HaltedAt, err)
	}
	cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, p)
	if err != nil {
		return nil, err
	}
	q := Quarantined{Source: a.cfg.Source, Partition: p, Offset: raw.Offset, Error: halted.Error, SkippedBy: actor, Reason: reason, Payload: showPayload(raw.Value)}
	next := cp
	next.Offset = raw.Offset
	if m, derr := event.Decode(raw.Value); derr == nil {
		q.Seq, next.Seq, next.Pos, next.SourceTime = m.Seq, max(m.Seq, cp.Seq), m.Pos, sentAt(m)
		if m.Txn != nil {
			q.GTID, next.GTID = m.Txn.GTID, m.Txn.GTID
		}
	}
	tx, err := a.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	res, err := tx.ExecContext(ctx, `INSERT INTO `+binlog.MetaSchema+`.quarantine
		(source, part, kafka_offset, seq, gtid, error, payload, skipped_at, skipped_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), ?, ?)`,
		q.Source, p, q.Offset, q.Seq, q.GTID, q.Error, raw.Value, tombstone.Clip(actor, 128), tombstone.Clip(reason, 512))
	if err != nil {
		return nil, fmt.Errorf("keep the message in %s.quarantine: %w", binlog.MetaSchema, err)
	}
	q.ID, _ = res.LastInsertId()
	// As the halted partition's worker would: only if the checkpoint is
	// still where it halted.
	if err := (&worker{a: a, part: p, stored: cp.Offset}).saveCheckpoint(ctx, tx, next, 0); err != nil {
		return nil, fmt.Errorf("move the checkpoint past the message: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	q.SkippedAt = time.Now().UTC()
	a.log.Warn("message skipped by an operator and quarantined: its rows are not applied", "partition", p, "offset", q.Offset, "gtid", q.GTID, "actor", actor, "reason", reason, "quarantine_id", q.ID)
	a.m.quarantined.Inc()
	a.mu.Lock()
	a.unresolved++
	ps.Checkpoint = next
	a.mu.Unlock()
	a.Retry()
	return &q, nil
}

func orState(ps *PartitionStatus) string {
	if ps == nil {
		return "not claimed here"
	}
	if ps.State == StateHalted {
		return "halted before reading a message (" + ps.Error + ")"
	}
	return ps.State
}

// QuarantineList returns the link's quarantined messages, newest first
// (all: resolved ones too).
func (a *Applier) QuarantineList(ctx context.Context, all bool) ([]Quarantined, error) {
	q := `SELECT id, source, part, kafka_offset, seq, gtid, error, payload, skipped_at, skipped_by, reason, resolved_at, COALESCE(resolved_by, ''), COALESCE(resolution, '')
		FROM ` + binlog.MetaSchema + `.quarantine WHERE source = ?`
	if !all {
		q += ` AND resolved_at IS NULL`
	}
	rows, err := a.cfg.DB.QueryContext(ctx, q+` ORDER BY id DESC`, a.cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("read %s.quarantine: %w", binlog.MetaSchema, err)
	}
	defer rows.Close()
	out := []Quarantined{}
	for rows.Next() {
		var r Quarantined
		var resolved sql.NullTime
		var payload []byte
		if err := rows.Scan(&r.ID, &r.Source, &r.Partition, &r.Offset, &r.Seq, &r.GTID, &r.Error, &payload, &r.SkippedAt, &r.SkippedBy, &r.Reason, &resolved, &r.ResolvedBy, &r.Resolution); err != nil {
			return nil, err
		}
		r.Payload = showPayload(payload)
		if resolved.Valid {
			r.ResolvedAt = &resolved.Time
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Resolve marks quarantined message id resolved (the operator repaired
// what it left missing, or decided it stays out).
func (a *Applier) Resolve(ctx context.Context, id int64, actor, resolution string) error {
	res, err := a.cfg.DB.ExecContext(ctx, `UPDATE `+binlog.MetaSchema+`.quarantine SET resolved_at = UTC_TIMESTAMP(6), resolved_by = ?, resolution = ?
		WHERE id = ? AND source = ? AND resolved_at IS NULL`, tombstone.Clip(actor, 128), tombstone.Clip(resolution, 512), id, a.cfg.Source)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("quarantine id %d: no unresolved message of %s->%s has it (regionctl link show lists them)", id, a.cfg.Source, a.cfg.Target)
	}
	a.mu.Lock()
	a.unresolved = max(a.unresolved-1, 0)
	a.mu.Unlock()
	return nil
}

// countUnresolved loads how many quarantined messages await resolution.
func (a *Applier) countUnresolved(ctx context.Context) error {
	var n int
	if err := a.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.quarantine WHERE source = ? AND resolved_at IS NULL`, a.cfg.Source).Scan(&n); err != nil {
		return fmt.Errorf("apply: count quarantined messages: %w", err)
	}
	a.mu.Lock()
	a.unresolved = n
	a.mu.Unlock()
	return nil
}

// skippedAt reports whether the message at offset of partition p is one
// an operator skipped (it is in quarantine).
func (a *Applier) skippedAt(ctx context.Context, p int32, offset int64) (bool, error) {
	var n int
	if err := a.cfg.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+binlog.MetaSchema+`.quarantine WHERE source = ? AND part = ? AND kafka_offset = ?`,
		a.cfg.Source, p, offset).Scan(&n); err != nil {
		return false, fmt.Errorf("apply: read %s.quarantine: %w", binlog.MetaSchema, err)
	}
	return n > 0, nil
}
