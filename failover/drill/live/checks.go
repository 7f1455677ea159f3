package live

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/failover/drill"
	"github.com/regionplatform/region/verify"
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
	if a.load != nil && !a.checked {
		a.load.Pause()
		defer a.load.Resume()
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

// checksums compares every replicated table across regions with verify
// (chunked checksums, then the differing rows). Rows still in flight can
// make a chunk differ: it is re-checked for a few seconds before a
// difference is reported.
func (a *actions) checksums(ctx context.Context) ([]drill.TableChecksum, error) {
	var regions []verify.Region
	for _, r := range a.cfg.Regions {
		db, err := dial.MySQL(a.cfg, r.Name)
		if err != nil {
			return nil, fmt.Errorf("region %s's MySQL: %w", r.Name, err)
		}
		defer db.Close()
		regions = append(regions, verify.Region{Name: r.Name, DB: db})
	}
	tables, err := verify.ReplicatedTables(ctx, regions, a.cfg.Replication)
	if err != nil {
		return nil, err
	}
	cfg := verify.DefaultConfig()
	cfg.RecheckDelay = 500 * time.Millisecond
	res, err := verify.Converge(ctx, cfg, regions, tables, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return tableChecksums(res), nil
}

// tableChecksums tells a comparison per table for the report: the
// reference region's rows, and for every other region whether it holds
// the same or how many rows differ.
func tableChecksums(res *verify.Result) []drill.TableChecksum {
	differ := map[string]map[string]int{} // table -> region -> rows
	for _, d := range res.Diffs {
		if differ[d.Table] == nil {
			differ[d.Table] = map[string]int{}
		}
		differ[d.Table][d.Region]++
	}
	var out []drill.TableChecksum
	for _, t := range res.Tables {
		tc := drill.TableChecksum{Table: t.Table, Checksums: map[string]string{}, Equal: t.Error == "" && t.DifferingChunks == 0}
		if t.Error != "" {
			tc.Checksums[res.Reference] = "not compared: " + t.Error
			out = append(out, tc)
			continue
		}
		tc.Checksums[res.Reference] = fmt.Sprintf("%d rows", t.Rows)
		for _, r := range res.Regions[1:] {
			switch n := differ[t.Table][r]; {
			case n > 0:
				tc.Checksums[r] = fmt.Sprintf("%d rows differ", n)
			case tc.Equal || len(differ[t.Table]) > 0:
				tc.Checksums[r] = "same rows"
			default: // its differences are past Config.MaxDiffs
				tc.Checksums[r] = fmt.Sprintf("%d rows differ in some region", t.DifferingRows)
			}
		}
		out = append(out, tc)
	}
	return out
}
