package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/binlog"
)

// An operator's pause of a link (regionctl link pause), as STOP SLAVE
// SQL_THREAD is for a MySQL replica: nothing more of the source's stream
// is applied until someone resumes it, and the messages wait in the
// source's Kafka. The pause is a row of the target database, so a
// regiond restarted meanwhile stays paused.

// pauseSchema holds the paused links, one row per source.
const pauseSchema = `CREATE TABLE IF NOT EXISTS ` + binlog.MetaSchema + `.link_pauses (
	source VARCHAR(64) NOT NULL PRIMARY KEY,
	paused_at TIMESTAMP(6) NOT NULL,
	paused_by VARCHAR(128) NOT NULL,
	reason VARCHAR(512) NOT NULL
) ENGINE=InnoDB`

// Pause is who paused a link, when and why.
type Pause struct {
	PausedAt time.Time `json:"paused_at"`
	PausedBy string    `json:"paused_by"`
	Reason   string    `json:"reason"`
}

// ErrPaused is returned for a pause of a link that is paused already, and
// ErrNotPaused for a resume of one that is not.
var (
	ErrPaused    = errors.New("the link is paused already")
	ErrNotPaused = errors.New("the link is not paused")
)

// pauseWait bounds how long Pause waits for the session applying to end.
const pauseWait = 10 * time.Second

// Pause stops the link applying: the current session ends (a commit in
// progress finishes or rolls back; every checkpoint stays as committed)
// and Run starts no new one until Resume. It returns once nothing of the
// link applies any more, or with ctx's error (the pause is recorded then
// all the same).
func (a *Applier) Pause(ctx context.Context, by, reason string) (Pause, error) {
	p := Pause{PausedAt: time.Now().UTC(), PausedBy: by, Reason: reason}
	a.mu.Lock()
	if a.pause != nil {
		cur := *a.pause
		a.mu.Unlock()
		return cur, ErrPaused
	}
	a.mu.Unlock()
	if _, err := a.cfg.DB.ExecContext(ctx, `INSERT INTO `+binlog.MetaSchema+`.link_pauses (source, paused_at, paused_by, reason) VALUES (?, ?, ?, ?)`,
		a.cfg.Source, p.PausedAt, by, reason); err != nil {
		return p, fmt.Errorf("apply: record the pause of %s->%s: %w", a.cfg.Source, a.cfg.Target, err)
	}
	a.mu.Lock()
	a.pause, a.resumed = &p, make(chan struct{})
	restart := a.restart
	a.mu.Unlock()
	a.log.Warn("link paused by an operator: nothing more is applied until it is resumed", "by", by, "reason", reason)
	if restart != nil {
		restart()
	}
	ctx, cancel := context.WithTimeout(ctx, pauseWait)
	defer cancel()
	for {
		a.mu.Lock()
		stopped := a.restart == nil
		a.mu.Unlock()
		if stopped {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("apply: %s->%s is paused, but its session has not ended yet: %w", a.cfg.Source, a.cfg.Target, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Resume lets a paused link apply again, from its checkpoints.
func (a *Applier) Resume(ctx context.Context) error {
	a.mu.Lock()
	paused := a.pause != nil
	a.mu.Unlock()
	if !paused {
		return ErrNotPaused
	}
	if _, err := a.cfg.DB.ExecContext(ctx, `DELETE FROM `+binlog.MetaSchema+`.link_pauses WHERE source = ?`, a.cfg.Source); err != nil {
		return fmt.Errorf("apply: clear the pause of %s->%s: %w", a.cfg.Source, a.cfg.Target, err)
	}
	a.mu.Lock()
	if a.pause != nil {
		a.pause = nil
		close(a.resumed)
	}
	a.mu.Unlock()
	a.log.Info("link resumed: applying from its checkpoints")
	return nil
}

// loadPause reads whether the link was paused before this Run.
func (a *Applier) loadPause(ctx context.Context) error {
	var p Pause
	err := a.cfg.DB.QueryRowContext(ctx, `SELECT paused_at, paused_by, reason FROM `+binlog.MetaSchema+`.link_pauses WHERE source = ?`, a.cfg.Source).
		Scan(&p.PausedAt, &p.PausedBy, &p.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply: read the pause of %s->%s: %w", a.cfg.Source, a.cfg.Target, err)
	}
	a.mu.Lock()
	if a.pause == nil {
		a.pause, a.resumed = &p, make(chan struct{})
	}
	a.mu.Unlock()
	return nil
}

// waitResumed waits while the link is paused, with the link and its
// partitions in state paused; false when ctx ended first. Partitions no
// session has set up yet (a regiond started paused) show their
// checkpoints, so that status tells how far the link is applied.
func (a *Applier) waitResumed(ctx context.Context, client sarama.Client) bool {
	a.mu.Lock()
	p, resumed := a.pause, a.resumed
	a.mu.Unlock()
	if p == nil {
		return true
	}
	parts, err := client.Partitions(a.topic)
	if err != nil {
		a.log.Warn("paused link: cannot list the source's partitions; status shows none", "err", err)
	}
	for _, part := range parts {
		a.mu.Lock()
		known := a.parts[part] != nil
		a.mu.Unlock()
		if known {
			continue
		}
		cp, err := loadCheckpoint(ctx, a.cfg.DB, a.cfg.Source, part)
		if err != nil {
			a.log.Warn("paused link: cannot read a partition's checkpoint", "partition", part, "err", err)
			continue
		}
		a.mu.Lock()
		a.parts[part] = &PartitionStatus{Partition: part, Checkpoint: cp}
		a.mu.Unlock()
		a.advance(part, cp.Seq)
	}
	a.mu.Lock()
	a.state, a.err = StatePaused, fmt.Sprintf("paused by %s at %s: %s (regionctl link resume)", p.PausedBy, p.PausedAt.Format(time.RFC3339), p.Reason)
	for _, ps := range a.parts {
		if ps.State != StateHalted {
			ps.State = StatePaused
		}
	}
	a.mu.Unlock()
	select {
	case <-ctx.Done():
		return false
	case <-resumed:
	}
	a.setState(StateRunning, "")
	return true
}
