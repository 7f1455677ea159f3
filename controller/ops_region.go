package controller

import (
	"fmt"
	"time"
)

// FenceRegion (region.fence) stops a region from taking writes. It creates
// the region's entry when it is the first mention of the region.
type FenceRegion struct {
	Header
	Region string `json:"region"`
	Reason string `json:"reason"`
}

// Op implements Command.
func (*FenceRegion) Op() string { return OpRegionFence }

func (c *FenceRegion) check() error {
	return firstErr(checkName("region", c.Region), checkTime("at", c.At), required("reason", c.Reason))
}

func (c *FenceRegion) apply(s *State) error {
	r := s.Regions[c.Region]
	r.Name = c.Region
	r.Fenced, r.FenceReason, r.FencedAt, r.FencedBy = true, c.Reason, c.At, c.Actor
	s.Regions[c.Region] = r
	return nil
}

// UnfenceRegion (region.unfence) lets a fenced region take writes again.
// It is refused while a failover involving the region is in progress.
type UnfenceRegion struct {
	Header
	Region string `json:"region"`
	Reason string `json:"reason,omitempty"`
}

// Op implements Command.
func (*UnfenceRegion) Op() string { return OpRegionUnfence }

func (c *UnfenceRegion) check() error {
	return firstErr(checkName("region", c.Region), checkTime("at", c.At))
}

func (c *UnfenceRegion) apply(s *State) error {
	r, ok := s.Regions[c.Region]
	if !ok {
		return fmt.Errorf("region %q is not known", c.Region)
	}
	if !r.Fenced {
		return fmt.Errorf("region %q is not fenced", c.Region)
	}
	if f, ok := s.ActiveFailover(c.Region); ok {
		return fmt.Errorf("region %q is in failover %q (%s); end it first", c.Region, f.ID, f.State)
	}
	r.Fenced, r.FenceReason, r.FencedAt, r.FencedBy = false, "", time.Time{}, ""
	s.Regions[c.Region] = r
	return nil
}

// MarkRegionFailed (region.failed) records that the region was declared
// failed. It also fences the region: a failed region takes no writes until
// an operator unfences it. CooldownUntil, if set, must not be before At.
type MarkRegionFailed struct {
	Header
	Region        string    `json:"region"`
	Reason        string    `json:"reason"`
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
}

// Op implements Command.
func (*MarkRegionFailed) Op() string { return OpRegionFailed }

func (c *MarkRegionFailed) check() error {
	if err := firstErr(checkName("region", c.Region), checkTime("at", c.At), required("reason", c.Reason)); err != nil {
		return err
	}
	if !c.CooldownUntil.IsZero() && c.CooldownUntil.Before(c.At) {
		return fmt.Errorf("field \"cooldown_until\" (%s) is before \"at\" (%s)", c.CooldownUntil.Format(time.RFC3339), c.At.Format(time.RFC3339))
	}
	return nil
}

func (c *MarkRegionFailed) apply(s *State) error {
	r := s.Regions[c.Region]
	r.Name = c.Region
	r.FailedAt, r.FailedReason, r.CooldownUntil = c.At, c.Reason, c.CooldownUntil
	if !r.Fenced {
		r.Fenced, r.FenceReason, r.FencedAt, r.FencedBy = true, "failed: "+c.Reason, c.At, c.Actor
	}
	s.Regions[c.Region] = r
	return nil
}

// MarkRegionReturned (region.returned) records that a failed region is
// reachable again. The region stays fenced.
type MarkRegionReturned struct {
	Header
	Region string `json:"region"`
}

// Op implements Command.
func (*MarkRegionReturned) Op() string { return OpRegionReturned }

func (c *MarkRegionReturned) check() error {
	return firstErr(checkName("region", c.Region), checkTime("at", c.At))
}

func (c *MarkRegionReturned) apply(s *State) error {
	r, ok := s.Regions[c.Region]
	if !ok {
		return fmt.Errorf("region %q is not known", c.Region)
	}
	r.ReturnedAt = c.At
	s.Regions[c.Region] = r
	return nil
}

// PlaceCell (cell.place) sets a cell's home and standby regions. Home and
// standby must differ. A failover moves a cell by placing it again with
// home and standby swapped.
type PlaceCell struct {
	Header
	Cell    string `json:"cell"`
	Home    string `json:"home"`
	Standby string `json:"standby"`
}

// Op implements Command.
func (*PlaceCell) Op() string { return OpCellPlace }

func (c *PlaceCell) check() error {
	if err := firstErr(checkName("cell", c.Cell), checkName("home", c.Home), checkName("standby", c.Standby), checkTime("at", c.At)); err != nil {
		return err
	}
	if c.Home == c.Standby {
		return fmt.Errorf("field \"standby\": %q is also the home region", c.Standby)
	}
	return nil
}

func (c *PlaceCell) apply(s *State) error {
	s.Cells[c.Cell] = Placement{Cell: c.Cell, Home: c.Home, Standby: c.Standby, At: c.At, By: c.Actor}
	for _, name := range []string{c.Home, c.Standby} {
		if _, ok := s.Regions[name]; !ok {
			s.Regions[name] = Region{Name: name}
		}
	}
	return nil
}

func required(field, v string) error {
	if v == "" {
		return fmt.Errorf("field %q is required", field)
	}
	return nil
}

// HoldRegion (region.hold) holds a fenced region's replication stream in
// every other region: a forced failover, once the survivor has drained
// what reached it, keeps the region's later transactions (the RPO) from
// being applied when the region comes back.
type HoldRegion struct {
	Header
	Region   string `json:"region"`
	Failover string `json:"failover"`
}

// Op implements Command.
func (*HoldRegion) Op() string { return OpRegionHold }

func (c *HoldRegion) check() error {
	return firstErr(checkName("region", c.Region), checkName("failover", c.Failover), checkTime("at", c.At))
}

func (c *HoldRegion) apply(s *State) error {
	r, ok := s.Regions[c.Region]
	if !ok || !r.Fenced {
		return fmt.Errorf("region %q is not fenced: only a fenced region's stream is held", c.Region)
	}
	r.HeldBy = c.Failover
	s.Regions[c.Region] = r
	return nil
}

// ReleaseRegion (region.release) lets the other regions apply a held
// region's stream again, skipping the transactions in Discard (a GTID
// set: the failover's RPO, which the failback discards).
type ReleaseRegion struct {
	Header
	Region  string `json:"region"`
	Discard string `json:"discard,omitempty"`
}

// Op implements Command.
func (*ReleaseRegion) Op() string { return OpRegionRelease }

func (c *ReleaseRegion) check() error {
	return firstErr(checkName("region", c.Region), checkTime("at", c.At))
}

func (c *ReleaseRegion) apply(s *State) error {
	r, ok := s.Regions[c.Region]
	if !ok || r.HeldBy == "" {
		return fmt.Errorf("region %q's stream is not held", c.Region)
	}
	r.HeldBy = ""
	if c.Discard != "" {
		if r.Discarded != "" {
			r.Discarded += ","
		}
		r.Discarded += c.Discard
	}
	s.Regions[c.Region] = r
	return nil
}
