package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
)

// Headers of reads by consistency level (docs/consistency.md).
const (
	// HeaderConsistency asks for a read's level: strong, session,
	// eventual or bounded=DURATION.
	HeaderConsistency = "X-Consistency"
	// HeaderSession is the session token: set on the answer to a write
	// whose application reported its commit (HeaderGTID), sent back by
	// the client with its next session reads ("region:gtid").
	HeaderSession = "X-Region-Session"
	// HeaderGTID is how an application tells the gateway the GTID of the
	// transaction a write committed (MariaDB's @@last_gtid).
	HeaderGTID = "X-Region-GTID"
	// HeaderRead says where the gateway served a read: local (the
	// gateway's region) or owner (the user's cell's region).
	HeaderRead = "X-Region-Read"
)

// Replica is what the gateway's region has applied of the other regions'
// writes (regiond: its appliers' low watermarks). Calls come from every
// read that may be served locally: they must be cheap.
type Replica interface {
	// Staleness is how old region from's data in the local region may
	// be; ok is false when the link from it does not apply (halted,
	// paused, held, not started) or does not exist.
	Staleness(from string) (d time.Duration, ok bool)
	// Applied reports whether the local region has applied gtid, a
	// transaction of region from's MySQL.
	Applied(from, gtid string) bool
}

// ReadStats counts the reads a gateway served since it started, by
// consistency level: served by its region (Local) or by the owner's
// (Owner: strong, and bounded or session reads the region could not
// serve).
type ReadStats struct {
	Levels []LevelStats `json:"levels"`
	// SessionWaits counts session reads that waited for the region to
	// apply their token, and SessionWaitSeconds their total wait.
	SessionWaits       uint64  `json:"session_waits"`
	SessionWaitSeconds float64 `json:"session_wait_seconds"`
}

// LevelStats is one level's reads.
type LevelStats struct {
	Level string `json:"level"`
	Local uint64 `json:"local"`
	Owner uint64 `json:"owner"`
}

// ReadStats returns the reads served so far.
func (g *Gateway) ReadStats() ReadStats {
	var st ReadStats
	for _, name := range []string{config.ReadStrong, config.ReadSession, config.ReadBounded, config.ReadEventual} {
		i := levelIndex[name]
		st.Levels = append(st.Levels, LevelStats{Level: name, Local: g.reads[i][0].Load(), Owner: g.reads[i][1].Load()})
	}
	st.SessionWaits = g.waits.Load()
	st.SessionWaitSeconds = float64(g.waitNanos.Load()) / 1e9
	return st
}

// countRead counts a read of level lv, served locally or by the owner.
func (g *Gateway) countRead(lv level, served int) {
	g.m.reads[lv.index][served].Inc()
	g.reads[lv.index][served].Add(1)
}

// level is a parsed consistency level.
type level struct {
	name  string
	bound time.Duration // bounded only
	index int           // into metrics.reads
}

var levelIndex = map[string]int{config.ReadStrong: 0, config.ReadSession: 1, config.ReadBounded: 2, config.ReadEventual: 3}

// readLevel returns the level of read r: its header's, else its route's,
// else strong.
func (g *Gateway) readLevel(r *http.Request) (level, error) {
	s := r.Header.Get(HeaderConsistency)
	if s == "" {
		for _, rl := range g.cfg.ReadLevels {
			if matchPath(rl.Path, r.URL.Path) {
				s = rl.Level
				break
			}
		}
	}
	if s == "" {
		return level{name: config.ReadStrong}, nil
	}
	name, bound, err := config.ParseReadLevel(strings.TrimSpace(s))
	if err != nil {
		return level{}, fmt.Errorf("%s: %w", HeaderConsistency, err)
	}
	return level{name: name, bound: bound, index: levelIndex[name]}, nil
}

// servesLocally decides whether a read of level lv, whose owner is region
// owner, may be served by the gateway's own region: eventual always;
// bounded while the local copy of owner's data is younger than the bound;
// session once the local region has applied the client's last write (its
// token), waiting up to SessionWait.
func (g *Gateway) servesLocally(r *http.Request, lv level, owner string) bool {
	switch lv.name {
	case config.ReadEventual:
		return true
	case config.ReadBounded:
		if g.cfg.Replica == nil {
			return false
		}
		d, ok := g.cfg.Replica.Staleness(owner)
		return ok && d <= lv.bound
	case config.ReadSession:
		tok := r.Header.Get(HeaderSession)
		if tok == "" {
			return true // no write of this client to see
		}
		region, gtid, ok := strings.Cut(tok, ":")
		if !ok || region == "" || gtid == "" {
			return false // not a token the gateway made: ask the owner
		}
		if region == g.cfg.Region {
			return true
		}
		if g.cfg.Replica == nil {
			return false
		}
		start := time.Now()
		defer func() {
			d := time.Since(start)
			g.m.sessionWait.Observe(d.Seconds())
			g.waits.Add(1)
			g.waitNanos.Add(uint64(d))
		}()
		for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
			if g.cfg.Replica.Applied(region, gtid) {
				return true
			}
			left := g.cfg.SessionWait - time.Since(start)
			if left <= 0 || r.Context().Err() != nil {
				return false
			}
			time.Sleep(min(wait, left))
		}
	}
	return false
}
