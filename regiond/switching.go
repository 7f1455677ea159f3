package regiond

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/router/traffic"
)

// newSwitcher builds the traffic switcher with the config's guards.
func (d *Daemon) newSwitcher() (*traffic.Switcher, error) {
	rt := d.cfg.Deployment.Router
	tc := traffic.DefaultConfig()
	tc.Store, tc.Logger, tc.Metrics = d.store, d.log, d.reg
	tc.AckTimeout, tc.MaxLag, tc.CatchUpTimeout = rt.AckTimeout, rt.MaxLag, rt.CatchUpTimeout
	tc.Replication = d.peers
	return traffic.New(tc)
}

// peerToken is the token regiond uses to read other regionds' status:
// the first viewer token (least privilege), else the first token.
func peerToken(tokens []apiserver.Token) string {
	for _, t := range tokens {
		if t.Role == apiserver.RoleViewer {
			return t.Secret
		}
	}
	if len(tokens) > 0 {
		return tokens[0].Secret
	}
	return ""
}

// replicationView answers a switch's questions about replication: a
// region's committed position from its MySQL, a link's progress from the
// regiond of the link's target region.
type replicationView struct {
	d     *Daemon
	token string
	http  *http.Client

	mu  sync.Mutex
	dbs map[string]*sql.DB // other regions' MySQL, opened on first use
}

var _ traffic.Replication = (*replicationView)(nil)

// DB returns region's MySQL: this regiond's own, or another region's
// opened on first use.
func (v *replicationView) DB(region string) (*sql.DB, error) {
	if region == v.d.region.Name {
		return v.d.db, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if db := v.dbs[region]; db != nil {
		return db, nil
	}
	db, err := v.d.dialer.MySQL(v.d.cfg.Deployment, region)
	if err != nil {
		return nil, err
	}
	v.dbs[region] = db
	return db, nil
}

// Position reads the GTID set region's MySQL has written to its binlog.
func (v *replicationView) Position(ctx context.Context, region string) (string, error) {
	r, ok := v.d.cfg.Deployment.Region(region)
	if !ok {
		return "", fmt.Errorf("region %q is not in the config", region)
	}
	db, err := v.DB(region)
	if err != nil {
		return "", err
	}
	pos, err := binlog.End(ctx, db, r.MySQL.Flavor)
	if err != nil {
		return "", fmt.Errorf("region %s: %w", region, err)
	}
	return pos, nil
}

// Link asks the target region's regiond (or this daemon, when it is the
// target) how far the link from -> to has applied.
func (v *replicationView) Link(ctx context.Context, from, to string) (traffic.Link, error) {
	l, err := v.LinkStatus(ctx, from, to)
	if err != nil {
		return traffic.Link{}, err
	}
	return linkOf(l), nil
}

var _ traffic.Waiter = (*replicationView)(nil)

// WaitApplied waits on the target region's regiond (or in this daemon,
// when it is the target) until the link from -> to has applied pos, at
// most wait.
func (v *replicationView) WaitApplied(ctx context.Context, from, to, pos string, wait time.Duration) (traffic.Link, bool, error) {
	var l apply.LinkStatus
	var covered bool
	if to == v.d.region.Name {
		a := v.d.repl.inbound(from)
		if a == nil {
			return traffic.Link{}, false, fmt.Errorf("regiond %s has no link from %s", to, from)
		}
		l, covered = v.d.waitApplied(ctx, a, pos, wait)
	} else {
		r, ok := v.d.cfg.Deployment.Region(to)
		if !ok {
			return traffic.Link{}, false, fmt.Errorf("region %q is not in the config", to)
		}
		view, err := (&client.Client{BaseURL: r.URL, Token: v.token, HTTP: v.http}).LinkApplied(ctx, from, pos, wait)
		if err != nil {
			return traffic.Link{}, false, err
		}
		l, covered = view.Link, view.Covered
	}
	return linkOf(l), covered, nil
}

// linkOf is what a switch needs of a link's status.
func linkOf(l apply.LinkStatus) traffic.Link {
	return traffic.Link{From: l.From, To: l.To, State: l.State, Error: l.Error, AppliedGTID: l.AppliedGTID, LagSeconds: l.LagSeconds, LagTxns: l.LagTxns,
		Consumed: l.Consumed()}
}

// LinkStatus is the whole status of the link from -> to, partitions
// included, from the target region's regiond.
func (v *replicationView) LinkStatus(ctx context.Context, from, to string) (apply.LinkStatus, error) {
	var links []apply.LinkStatus
	if to == v.d.region.Name {
		links = v.d.repl.linkStatus(ctx)
	} else {
		r, ok := v.d.cfg.Deployment.Region(to)
		if !ok {
			return apply.LinkStatus{}, fmt.Errorf("region %q is not in the config", to)
		}
		st, err := (&client.Client{BaseURL: r.URL, Token: v.token, HTTP: v.http}).Status(ctx)
		if err != nil {
			return apply.LinkStatus{}, err
		}
		links = st.Links
	}
	for _, l := range links {
		if l.From == from {
			return l, nil
		}
	}
	return apply.LinkStatus{}, fmt.Errorf("regiond %s has no link from %s", to, from)
}

// Covers compares GTID sets in region's flavor.
func (v *replicationView) Covers(region, a, b string) (bool, error) {
	return binlog.Covers(v.d.flavorOf(region), a, b)
}

// close releases the other regions' MySQL connections.
func (v *replicationView) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, db := range v.dbs {
		db.Close()
	}
}
