package live

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/lab"
)

// Precheck measures every inbound link's lag in every region and, when
// asked, compares every replicated table's checksum across regions (the
// load paused and replication drained first, so that equal data shows
// as equal sums).
func (a *actions) Precheck(ctx context.Context, spec drill.PrecheckSpec) (drill.PrecheckResult, error) {
	var res drill.PrecheckResult
	links, err := a.running(ctx)
	if err != nil {
		return res, err
	}
	for _, l := range links {
		res.Links = append(res.Links, drill.LinkLag{From: l.From, To: l.To, Lag: time.Duration(l.LagSeconds * float64(time.Second))})
	}
	if !spec.Checksums {
		return res, nil
	}
	if a.load != nil {
		a.load.pause()
		defer a.load.resume()
	}
	if err := a.drained(ctx); err != nil {
		return res, err
	}
	res.Tables, err = a.checksums(ctx)
	return res, err
}

// linkState is one inbound link as a region's status reports it.
type linkState struct {
	From, To, State, Error string
	LagSeconds             float64
	LagTxns                uint64
}

// links asks every region for its inbound links.
func (a *actions) links(ctx context.Context) ([]linkState, error) {
	o := a.c.Overview(ctx, a.cfg)
	var out []linkState
	for _, r := range o.Regions {
		if r.Error != "" || r.Status == nil {
			return nil, fmt.Errorf("region %s's regiond (%s) does not answer: %s: its links' lag cannot be measured; bring it back (regionctl status)", r.Region, r.API, r.Error)
		}
		for _, l := range r.Status.Links {
			out = append(out, linkState{From: l.From, To: l.To, State: l.State, Error: l.Error, LagSeconds: l.LagSeconds, LagTxns: l.LagTxns})
		}
	}
	return out, nil
}

// running waits (up to linkWait) until every link runs: a link whose
// source just restarted reconnects with backoff.
func (a *actions) running(ctx context.Context) ([]linkState, error) {
	deadline := time.Now().Add(linkWait)
	for {
		links, err := a.links(ctx)
		if err != nil {
			return nil, err
		}
		var down []string
		for _, l := range links {
			if l.State != "running" {
				down = append(down, fmt.Sprintf("link %s->%s is %s (%s)", l.From, l.To, l.State, l.Error))
			}
		}
		if len(down) == 0 {
			return links, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s after %s: fix replication first (regionctl status shows it)", strings.Join(down, "; "), linkWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// drained waits until every link has applied what its source published.
func (a *actions) drained(ctx context.Context) error {
	deadline := time.Now().Add(drainWait)
	for {
		links, err := a.links(ctx)
		if err != nil {
			return err
		}
		var behind []string
		for _, l := range links {
			// A held link (its source was forced out) applies nothing
			// until the failback: its lag is the RPO, not lag.
			if l.LagTxns > 0 && l.State != "held" {
				behind = append(behind, fmt.Sprintf("%s->%s %d transactions behind", l.From, l.To, l.LagTxns))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replication did not catch up within %s (%s): checksums would differ; look at regionctl status", drainWait, strings.Join(behind, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checksums sums every table of replication.databases in every region.
// Rows still in flight can make a pass differ; it retries for a few
// seconds before reporting a difference.
func (a *actions) checksums(ctx context.Context) ([]drill.TableChecksum, error) {
	dbs := map[string]*sql.DB{}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	for _, r := range a.cfg.Regions {
		db, err := dial.MySQL(a.cfg, r.Name)
		if err != nil {
			return nil, fmt.Errorf("region %s's MySQL: %w", r.Name, err)
		}
		dbs[r.Name] = db
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tables, err := a.checksumPass(ctx, dbs)
		if err != nil {
			return nil, err
		}
		equal := true
		for _, t := range tables {
			equal = equal && t.Equal
		}
		if equal || time.Now().After(deadline) {
			return tables, nil
		}
		select {
		case <-ctx.Done():
			return tables, nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (a *actions) checksumPass(ctx context.Context, dbs map[string]*sql.DB) ([]drill.TableChecksum, error) {
	names := map[string]bool{}
	for region, db := range dbs {
		for _, schema := range a.cfg.Replication.Databases {
			rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE'", schema)
			if err != nil {
				return nil, fmt.Errorf("list the tables of %s in region %s: %w", schema, region, err)
			}
			for rows.Next() {
				var t string
				if err := rows.Scan(&t); err != nil {
					rows.Close()
					return nil, err
				}
				names[schema+"."+t] = true
			}
			rows.Close()
		}
	}
	var out []drill.TableChecksum
	for name := range names {
		tc := drill.TableChecksum{Table: name, Checksums: map[string]string{}, Equal: true}
		first := ""
		for _, r := range a.cfg.Regions {
			s, err := lab.SumTable(ctx, dbs[r.Name], name)
			v := fmt.Sprintf("%d (%d rows)", s.Checksum, s.Rows)
			if err != nil {
				v = "missing"
			}
			tc.Checksums[r.Name] = v
			if first == "" {
				first = v
			}
			tc.Equal = tc.Equal && v == first && v != "missing"
		}
		out = append(out, tc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}
