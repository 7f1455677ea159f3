package liveness

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Event kinds.
const (
	// EventFailed: a majority of the other observers have lost the region
	// (no regiond alive and MySQL unreachable) for FailAfter.
	EventFailed = "failed"
	// EventSuppressed: the same would have been declared, but the region
	// is within its cooldown after an earlier failure (anti-flapping).
	EventSuppressed = "suppressed"
	// EventReturned: a region declared failed is seen alive again by a
	// majority of the other observers. It stays fenced: unfencing is the
	// controller's business.
	EventReturned = "returned"
)

// Event is a change in a region's liveness.
type Event struct {
	Kind   string    `json:"kind"`
	Region string    `json:"region"`
	At     time.Time `json:"at"`
	// Observers are the observers that agreed, sorted.
	Observers []string `json:"observers"`
	// Of is how many observers outside the region there are.
	Of int `json:"of"`
	// CooldownUntil is when the region may next be declared failed.
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
}

// DetectorConfig configures a Detector.
type DetectorConfig struct {
	// FailAfter is how long a majority of the other observers must have
	// lost a region before it is declared failed.
	FailAfter time.Duration
	// Cooldown is how long after a region is declared failed it cannot be
	// declared failed again (it is reported as suppressed instead).
	Cooldown time.Duration
	// StaleAfter: a view received longer ago than this counts as unknown,
	// neither for nor against a failure.
	StaleAfter time.Duration
}

// DefaultDetectorConfig: declare after 3 s of majority agreement (about
// four times memberlist's own dead-node detection with DefaultConfig, so a
// single lost probe round never suffices), 5 minutes of cooldown, views
// stale after 2 s (ten view intervals).
func DefaultDetectorConfig() DetectorConfig {
	return DetectorConfig{FailAfter: 3 * time.Second, Cooldown: 5 * time.Minute, StaleAfter: 2 * time.Second}
}

// Validate checks the durations.
func (c DetectorConfig) Validate() error {
	if c.FailAfter <= 0 || c.Cooldown < 0 || c.StaleAfter <= 0 {
		return errors.New("liveness: FailAfter and StaleAfter must be positive, Cooldown not negative")
	}
	return nil
}

// RegionStatus is the Detector's judgement of one region.
type RegionStatus struct {
	Region        string    `json:"region"`
	Failed        bool      `json:"failed"`
	FailedAt      time.Time `json:"failed_at,omitzero"`
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	// Lost are the fresh observers that currently have lost the region.
	Lost []string `json:"lost"`
	Of   int      `json:"of"`
}

// Detector decides from all observers' views which regions have failed.
// It is pure: time comes in as an argument, and it keeps only what it
// needs to measure how long observers have agreed. It is not safe for
// concurrent use.
//
// A region R is declared failed when more than half of the configured
// observers outside R (every regiond not in R, and the witness) have, in
// fresh views, lost R for at least FailAfter. An observer that is silent,
// or has never been heard from, counts against the failure, so a single
// observer, or a minority cut off from the rest (also one that starts cut
// off), never suffices. Views of observers not configured are ignored.
type Detector struct {
	cfg       DetectorConfig
	regions   []string
	observers map[string]string               // observer -> its region
	lostSince map[string]map[string]time.Time // observer -> region -> since
	state     map[string]*regionState
}

type regionState struct {
	failed     bool
	failedAt   time.Time
	cooldown   time.Time
	suppressed bool // a suppressed event was reported for this episode
}

// NewDetector returns a Detector for the given regions and observers
// (member name -> its region, "" for the witness).
func NewDetector(cfg DetectorConfig, regions []string, observers map[string]string) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(regions) == 0 {
		return nil, fmt.Errorf("liveness: no regions")
	}
	d := &Detector{cfg: cfg, regions: append([]string(nil), regions...), observers: map[string]string{},
		lostSince: map[string]map[string]time.Time{}, state: map[string]*regionState{}}
	for o, r := range observers {
		d.observers[o] = r
	}
	sort.Strings(d.regions)
	for _, r := range d.regions {
		d.state[r] = &regionState{}
	}
	return d, nil
}

// Observe takes the latest view of every observer at time now and returns
// the events it causes, in region order.
func (d *Detector) Observe(now time.Time, views []View) []Event {
	fresh := map[string]View{}
	for _, v := range views {
		if r, ok := d.observers[v.Observer]; !ok || r != v.Region {
			continue // not configured, or claims another region
		}
		if now.Sub(v.ReceivedAt) <= d.cfg.StaleAfter {
			fresh[v.Observer] = v
		}
	}
	// Track since when each observer has lost each region.
	for o := range d.observers {
		v, ok := fresh[o]
		since := d.lostSince[o]
		if since == nil {
			since = map[string]time.Time{}
			d.lostSince[o] = since
		}
		for _, r := range d.regions {
			if ok && v.down(r) {
				// From when the observer says it lost r (its latest view
				// is the authority: a break it saw restarts the count),
				// else from when this detector first saw it lost.
				if at, known := v.lostSince(r); known {
					if at.After(now) {
						at = now
					}
					since[r] = at
				} else if _, had := since[r]; !had {
					since[r] = now
				}
			} else {
				delete(since, r)
			}
		}
	}
	var events []Event
	for _, r := range d.regions {
		if ev, ok := d.judge(now, r, fresh); ok {
			events = append(events, ev)
		}
	}
	return events
}

func (d *Detector) judge(now time.Time, r string, fresh map[string]View) (Event, bool) {
	st := d.state[r]
	var lost, alive []string
	of := 0
	for o, region := range d.observers {
		if region == r {
			continue
		}
		of++
		if since, ok := d.lostSince[o][r]; ok && now.Sub(since) >= d.cfg.FailAfter {
			lost = append(lost, o)
		}
		if v, ok := fresh[o]; ok && v.Alive[r] {
			alive = append(alive, o)
		}
	}
	sort.Strings(lost)
	sort.Strings(alive)
	majority := of/2 + 1
	switch {
	case !st.failed && of > 0 && len(lost) >= majority:
		if now.Before(st.cooldown) {
			if st.suppressed {
				return Event{}, false
			}
			st.suppressed = true
			return Event{Kind: EventSuppressed, Region: r, At: now, Observers: lost, Of: of, CooldownUntil: st.cooldown}, true
		}
		st.failed, st.failedAt, st.cooldown, st.suppressed = true, now, now.Add(d.cfg.Cooldown), false
		return Event{Kind: EventFailed, Region: r, At: now, Observers: lost, Of: of, CooldownUntil: st.cooldown}, true
	case !st.failed && len(lost) < majority:
		st.suppressed = false
	case st.failed && of > 0 && len(alive) >= majority:
		st.failed = false
		return Event{Kind: EventReturned, Region: r, At: now, Observers: alive, Of: of, CooldownUntil: st.cooldown}, true
	}
	return Event{}, false
}

// Status returns the Detector's judgement of every region at time now.
func (d *Detector) Status(now time.Time) []RegionStatus {
	var out []RegionStatus
	for _, r := range d.regions {
		st := d.state[r]
		rs := RegionStatus{Region: r, Failed: st.failed, FailedAt: st.failedAt, CooldownUntil: st.cooldown, Lost: []string{}}
		for o, region := range d.observers {
			if region == r {
				continue
			}
			rs.Of++
			if _, ok := d.lostSince[o][r]; ok {
				rs.Lost = append(rs.Lost, o)
			}
		}
		sort.Strings(rs.Lost)
		out = append(out, rs)
	}
	return out
}
