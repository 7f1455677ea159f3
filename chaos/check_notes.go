package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// noteMargin is how far from a routing change a note must be written for
// the check to judge whether its region owned the user: the binlog's
// whole seconds and the applier's clock-skew allowance (router.ClockSkew)
// blur ownership that close to a change.
const noteMargin = 3 * time.Second

// checkNotes judges the notes job (notesJob): every committed note is in
// every region unless a forced failover reported it lost; a note the
// guard let through is never logged as an ownership violation; a note
// written without the guard is logged as one in every other region if
// its region did not own the user (clear of any routing change by
// noteMargin), and not logged if it did.
func checkNotes(ctx context.Context, e *Env, notes []Note) Count {
	c := Count{Invariant: InvNotes}
	var samples []string
	bad := func(format string, args ...any) {
		c.Violations++
		if len(samples) < 5 {
			samples = append(samples, fmt.Sprintf(format, args...))
		}
	}
	held, violations, err := e.readNotes(ctx)
	if err != nil {
		c.Violations, c.Detail = 1, err.Error()
		return c
	}
	history, err := e.routingHistory(ctx)
	if err != nil {
		c.Violations, c.Detail = 1, err.Error()
		return c
	}
	lost := ledger.NewGTIDSet(e.Lost) // ranges, as failovers report them
	guarded, judged, foreign := 0, 0, 0
	for _, n := range notes {
		if e.Excluded[n.User] {
			continue
		}
		vkey := violationKey(n, e.Cfg.Buckets)
		c.Checked++
		if lost.Has(n.GTID) {
			c.Explained++
			continue
		}
		for _, r := range e.St.Regions {
			if _, ok := held[r.Name][n.ID]; !ok {
				bad("note %s (user %d, %s in %s) is missing in %s", n.ID, n.User, n.GTID, n.Region, r.Name)
			}
		}
		if n.Guarded {
			guarded++
			for _, r := range e.St.Regions {
				if why, logged := violations[r.Name][vkey]; logged {
					bad("note %s went through the guard of %s (%s) and %s logged it as an ownership violation: %s", n.ID, n.Region, n.GTID, r.Name, why)
				}
			}
			continue
		}
		owned, clear := ownedThroughout(history, n)
		if !clear {
			continue
		}
		judged++
		if !owned {
			foreign++
		}
		for _, r := range e.St.Regions {
			if r.Name == n.Region {
				continue
			}
			switch _, logged := violations[r.Name][vkey]; {
			case owned && logged:
				bad("note %s (user %d) written in %s, which owned the user, and %s logged it as an ownership violation", n.ID, n.User, n.Region, r.Name)
			case !owned && !logged:
				bad("note %s (user %d) written in %s, which did not own the user, and %s did not log it as an ownership violation", n.ID, n.User, n.Region, r.Name)
			}
		}
	}
	c.Detail = strings.Join(append(samples, fmt.Sprintf("%d notes: %d through the guard; %d without it judged against the routing history, %d of them written in a region that did not own the user", c.Checked, guarded, judged, foreign)), "; ")
	return c
}

// violationKey names the violation an applier logs for note n's user: a
// transaction with notes on two users is logged for each bucket it was
// not allowed to write, not as a whole.
func violationKey(n Note, buckets int) string {
	return n.GTID + "/" + strconv.Itoa(int(topo.BucketOfString(strconv.FormatInt(n.User, 10), buckets)))
}

// ownedThroughout reports whether n's region owned n's user (its bucket
// not write-forbidden, the region not fenced) in every version of the
// routing table current within noteMargin of the note; clear is false
// when the versions disagree.
func ownedThroughout(history []*router.Table, n Note) (owned, clear bool) {
	from, to := n.At.Add(-noteMargin), n.At.Add(noteMargin)
	seen := 0
	for i, t := range history { // oldest first
		if t.Change.Time.After(to) || (i+1 < len(history) && !history[i+1].Change.Time.After(from)) {
			continue
		}
		o := t.Owner(topo.BucketOfString(strconv.FormatInt(n.User, 10), t.Buckets))
		reg, _ := t.Region(n.Region)
		ok := o.Region == n.Region && o.State != router.WriteForbidden && !reg.Fenced
		if seen > 0 && ok != owned {
			return false, false
		}
		owned = ok
		seen++
	}
	return owned, seen > 0
}

// readNotes reads, per region, the ids of the notes it holds and the
// ownership violations it logged ("source GTID/bucket" -> reason, as
// violationKey names them).
func (e *Env) readNotes(ctx context.Context) (held, violations map[string]map[string]string, err error) {
	held, violations = map[string]map[string]string{}, map[string]map[string]string{}
	for _, r := range e.St.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			return nil, nil, err
		}
		defer db.Close()
		held[r.Name], violations[r.Name] = map[string]string{}, map[string]string{}
		for q, into := range map[string]map[string]string{
			"SELECT id, '' FROM " + lab.SampleDatabase + ".user_notes":                held[r.Name],
			"SELECT CONCAT(source_gtid, '/', bucket), reason FROM _region.violations": violations[r.Name],
		} {
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				return nil, nil, fmt.Errorf("region %s: %s: %w", r.Name, q, err)
			}
			for rows.Next() {
				var k, v string
				if err := rows.Scan(&k, &v); err != nil {
					rows.Close()
					return nil, nil, err
				}
				into[k] = v
			}
			rows.Close()
		}
	}
	return held, violations, nil
}

// routingHistory reads every version of the routing table, oldest first.
func (e *Env) routingHistory(ctx context.Context) ([]*router.Table, error) {
	etcd, err := dial.Etcd(ctx, e.Cfg)
	if err != nil {
		return nil, err
	}
	defer etcd.Close()
	h, err := router.NewStore(etcd, e.Cfg.Etcd.Prefix).History(ctx, 0)
	if err != nil {
		return nil, err
	}
	slices.Reverse(h)
	return h, nil
}
