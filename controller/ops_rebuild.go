package controller

import (
	"fmt"
	"time"
)

// States of a RebuildRecord.
const (
	RebuildRunning = "running"
	RebuildDone    = "done"
	RebuildFailed  = "failed"
)

// RebuildRecord is one run of regionctl region rebuild: a region's data
// copied from a donor region (cdc/seed).
type RebuildRecord struct {
	ID     string `json:"id"`
	Region string `json:"region"`
	Donor  string `json:"donor"`
	Reason string `json:"reason"`
	// Actor is the operator who ran it.
	Actor     string    `json:"actor"`
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Tables and Rows are what was copied; Kept the region's tables kept
	// aside ("db.table as _region.kept_..."); Resumed says the run went on
	// with an interrupted one.
	Tables  int      `json:"tables,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
	Kept    []string `json:"kept,omitempty"`
	Resumed bool     `json:"resumed,omitempty"`
	// Table is the one table a seed copied into a running region
	// (regionctl seed); empty for a whole-region rebuild.
	Table string `json:"table,omitempty"`
	// Add says the region was added to the deployment by this copy
	// (regionctl region add), not rebuilt.
	Add bool `json:"add,omitempty"`
	// Detail is why it failed, or what to do next.
	Detail string `json:"detail,omitempty"`
}

// RecordRebuild (region.rebuild) records a rebuild's start (state
// running) and then its end (done or failed), under the same id.
// Rebuild.Actor is set from the header's (the start's, at the end).
type RecordRebuild struct {
	Header
	Rebuild RebuildRecord `json:"rebuild"`
}

// Op implements Command.
func (*RecordRebuild) Op() string { return OpRegionRebuild }

func (c *RecordRebuild) check() error {
	r := c.Rebuild
	if err := firstErr(checkName("rebuild.id", r.ID), checkName("rebuild.region", r.Region), checkName("rebuild.donor", r.Donor), required("rebuild.reason", r.Reason),
		oneOf("rebuild.state", r.State, RebuildRunning, RebuildDone, RebuildFailed), checkTime("rebuild.started_at", r.StartedAt), checkTime("at", c.At)); err != nil {
		return err
	}
	switch {
	case r.Region == r.Donor:
		return fmt.Errorf("field \"rebuild.donor\": region %s cannot be its own donor", r.Region)
	case r.State == RebuildRunning && !r.EndedAt.IsZero():
		return fmt.Errorf("field \"rebuild.ended_at\": a running rebuild has not ended")
	case r.State != RebuildRunning && r.EndedAt.Before(r.StartedAt):
		return fmt.Errorf("field \"rebuild.ended_at\" is required and not before \"rebuild.started_at\" when the state is %s", r.State)
	case r.Tables < 0 || r.Rows < 0:
		return fmt.Errorf("fields \"rebuild.tables\" and \"rebuild.rows\" must not be negative")
	}
	return nil
}

func (c *RecordRebuild) apply(s *State) error {
	r := c.Rebuild
	old, ok := s.Rebuilds[r.ID]
	switch {
	case !ok && r.State != RebuildRunning:
		return fmt.Errorf("rebuild %q was not started: record it running first", r.ID)
	case ok && old.State != RebuildRunning:
		return fmt.Errorf("rebuild %q is already recorded %s", r.ID, old.State)
	case ok && r.State == RebuildRunning:
		return fmt.Errorf("rebuild %q is already running", r.ID)
	case ok && (old.Region != r.Region || old.Donor != r.Donor || old.Table != r.Table):
		return fmt.Errorf("rebuild %q is of region %s from %s (table %q), not %s from %s (table %q)", r.ID, old.Region, old.Donor, old.Table, r.Region, r.Donor, r.Table)
	}
	r.Kept = append([]string(nil), r.Kept...)
	r.Actor = c.Actor
	if ok {
		r.Actor, r.StartedAt = old.Actor, old.StartedAt
	}
	s.Rebuilds[r.ID] = r
	return nil
}
