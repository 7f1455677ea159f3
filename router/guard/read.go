package guard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
)

// ErrStale: a session read's region has not applied the client's last
// write within the wait, or a bounded read's region's copy is older than
// the bound; read from the owner region the error names.
var ErrStale = errors.New("the region's copy is not fresh enough for the read")

// Staleness says how old region from's data in the guard's region may be
// (client.Client asks the region's regiond, which samples the other
// regions' positions: exact, docs/consistency.md); ok is false when it
// cannot say.
type Staleness interface {
	Staleness(ctx context.Context, from string) (d time.Duration, ok bool, err error)
}

// Read is where a read may be served.
type Read struct {
	// Local: the guard's region serves it (its MySQL, db).
	Local bool
	// Owner is the region of the user's cell (a global table's home):
	// where a read that may not be served locally goes.
	Owner string
}

// SessionToken is what a session read waits for: the region that
// committed the client's last write and that write's GTID (the gateway's
// X-Region-Session header, "region:gtid").
type SessionToken struct {
	Region, GTID string
}

// ParseSessionToken parses "region:gtid".
func ParseSessionToken(s string) (SessionToken, error) {
	r, g, ok := strings.Cut(s, ":")
	if !ok || r == "" || g == "" {
		return SessionToken{}, fmt.Errorf("session token %q: want region:gtid, as the gateway's X-Region-Session header carries it", s)
	}
	return SessionToken{Region: r, GTID: g}, nil
}

// Read decides where a read of level (strong, session, eventual or
// bounded=DURATION) of the user whose shard key is key may be served, for
// an application in the guard's region reading db, its MySQL. strong:
// locally only when the guard's region owns the key's bucket, else an
// error wrapping ErrNotOwner that names the owner. eventual: locally.
// session: locally once db has applied tok (waiting up to wait), else an
// error wrapping ErrStale naming the owner. bounded: locally while
// Config.Staleness says the region's copy of the owner's data is younger
// than the bound, else ErrStale naming the owner.
func (g *Guard) Read(ctx context.Context, db *sql.DB, level, key string, tok SessionToken, wait time.Duration) (Read, error) {
	level, bound, err := config.ParseReadLevel(level)
	if err != nil {
		return Read{}, fmt.Errorf("guard %s: %w", g.cfg.ID, err)
	}
	rt, ok := g.router.Route(key)
	if !ok {
		return Read{}, fmt.Errorf("guard %s: %w", g.cfg.ID, ErrNoTable)
	}
	here := Read{Local: true, Owner: rt.Region}
	if rt.Region == g.cfg.Region {
		return here, nil
	}
	switch level {
	case config.ReadEventual:
		return here, nil
	case config.ReadStrong:
		return Read{Owner: rt.Region}, fmt.Errorf("guard %s: user %s: a strong read goes to region %s, its cell %s's (epoch %d): %w", g.cfg.ID, key, rt.Region, rt.Cell, rt.Epoch, ErrNotOwner)
	case config.ReadSession:
		if tok.GTID == "" || tok.Region == g.cfg.Region {
			return here, nil
		}
		deadline := time.Now().Add(wait)
		for {
			ok, err := g.AppliedHere(ctx, db, tok)
			if err != nil {
				return Read{Owner: rt.Region}, fmt.Errorf("guard %s: %w", g.cfg.ID, err)
			}
			if ok {
				return here, nil
			}
			if time.Now().After(deadline) {
				return Read{Owner: rt.Region}, fmt.Errorf("guard %s: user %s: region %s has not applied %s's %s within %s: read from region %s: %w", g.cfg.ID, key, g.cfg.Region, tok.Region, tok.GTID, wait, rt.Region, ErrStale)
			}
			select {
			case <-ctx.Done():
				return Read{Owner: rt.Region}, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	case config.ReadBounded:
		if g.cfg.Staleness == nil {
			return Read{Owner: rt.Region}, fmt.Errorf("guard %s: a bounded read needs Config.Staleness (the region's regiond client, which samples the other regions' positions)", g.cfg.ID)
		}
		d, known, err := g.cfg.Staleness.Staleness(ctx, rt.Region)
		if err != nil {
			return Read{Owner: rt.Region}, fmt.Errorf("guard %s: %w", g.cfg.ID, err)
		}
		if known && d <= bound {
			return here, nil
		}
		why := fmt.Sprintf("its copy of region %s's data is %s old", rt.Region, d.Round(time.Millisecond))
		if !known {
			why = fmt.Sprintf("it cannot tell how old its copy of region %s's data is (link not applying, or no position sample applied yet)", rt.Region)
		}
		return Read{Owner: rt.Region}, fmt.Errorf("guard %s: user %s: a read bounded by %s cannot be served in region %s: %s: read from region %s: %w", g.cfg.ID, key, bound, g.cfg.Region, why, rt.Region, ErrStale)
	}
	return Read{}, fmt.Errorf("guard %s: level %q is not a level", g.cfg.ID, level)
}

// AppliedHere reports whether db's region has applied tok's write: the
// low watermark of its link from tok.Region (every partition's stored
// checkpoint, _region.apply_checkpoints) covers tok.GTID. A partition
// that has stored none yet holds the watermark at nothing.
func (g *Guard) AppliedHere(ctx context.Context, db *sql.DB, tok SessionToken) (bool, error) {
	var pos sql.NullString
	var parts int
	err := db.QueryRowContext(ctx, `SELECT (SELECT pos FROM `+binlog.MetaSchema+`.apply_checkpoints WHERE source = ? ORDER BY seq LIMIT 1),
		(SELECT COUNT(*) FROM `+binlog.MetaSchema+`.apply_checkpoints WHERE source = ?)`, tok.Region, tok.Region).Scan(&pos, &parts)
	if err != nil {
		return false, fmt.Errorf("read the link from %s's watermark (%s.apply_checkpoints; the account needs SELECT on it): %w", tok.Region, binlog.MetaSchema, err)
	}
	if !pos.Valid || parts < g.cfg.Partitions {
		return false, nil
	}
	return binlog.Covers(g.cfg.Flavor, pos.String, tok.GTID)
}
