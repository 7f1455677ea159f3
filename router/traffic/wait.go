package traffic

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// waitRouters waits until every live router has applied epoch. A router
// that does not within AckTimeout fails the step, naming it.
func (s *Switcher) waitRouters(ctx context.Context, ru *run, epoch uint64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	start := time.Now()
	// behind is what the last listing that answered found: a listing cut
	// short by the deadline must not hide which routers were late.
	var behind []string
	var listErr error
	for {
		rs, err := s.cfg.Store.Routers(ctx)
		if err == nil {
			behind, listErr = nil, nil
			for _, r := range rs {
				if r.Epoch < epoch {
					behind = append(behind, fmt.Sprintf("%s (%s, epoch %d)", r.ID, r.Region, r.Epoch))
				}
			}
			if len(behind) == 0 {
				return fmt.Sprintf("%d routers serve epoch %d after %s", len(rs), epoch, time.Since(start).Round(time.Millisecond)), nil
			}
		} else if behind == nil {
			listErr = err
		}
		if e := s.sleep(ctx, ru); e != nil {
			if listErr != nil {
				return "", fmt.Errorf("routers did not acknowledge epoch %d: %w", epoch, listErr)
			}
			sort.Strings(behind)
			return "", fmt.Errorf("routers did not apply epoch %d within router.ack_timeout %s: %s: %w", epoch, s.cfg.AckTimeout, strings.Join(behind, ", "), e)
		}
	}
}

// waitReplication waits until, for every region the stage's buckets
// leave, the link to the target region has applied everything the source
// had committed once the routers honoured the fence.
func (s *Switcher) waitReplication(ctx context.Context, ru *run, t *router.Table, bs []topo.Bucket) (string, error) {
	var srcs []string
	seen := map[string]bool{ru.cell.Region: true}
	for _, b := range bs {
		// The fenced table still names the old owners.
		if o := t.Owner(b); !seen[o.Region] {
			seen[o.Region] = true
			srcs = append(srcs, o.Region)
		}
	}
	if len(srcs) == 0 {
		return "the buckets stay in region " + ru.cell.Region + ": nothing to wait for", nil
	}
	sort.Strings(srcs)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CatchUpTimeout)
	defer cancel()
	start := time.Now()
	var notes []string
	for _, src := range srcs {
		pos, err := s.cfg.Replication.Position(ctx, src)
		if err != nil {
			return "", fmt.Errorf("position of region %s: %w", src, err)
		}
		for {
			l, err := s.cfg.Replication.Link(ctx, src, ru.cell.Region)
			if err == nil {
				if l.State == "halted" || l.State == "failed" {
					return "", fmt.Errorf("link %s->%s is %s: %s", src, l.To, l.State, l.Error)
				}
				if lag := time.Duration(l.LagSeconds * float64(time.Second)); lag > s.cfg.MaxLag {
					return "", fmt.Errorf("link %s->%s is %s behind, above router.max_lag %s", src, l.To, lag.Round(time.Millisecond), s.cfg.MaxLag)
				}
				ok, cerr := s.cfg.Replication.Covers(src, l.AppliedGTID, pos)
				if cerr != nil {
					return "", cerr
				}
				if ok {
					notes = append(notes, fmt.Sprintf("%s->%s applied %s", src, l.To, pos))
					break
				}
			}
			if e := s.sleep(ctx, ru); e != nil {
				if err != nil {
					return "", fmt.Errorf("link %s->%s: %v: %w", src, ru.cell.Region, err, e)
				}
				return "", fmt.Errorf("link %s->%s did not apply %s within router.catch_up_timeout %s (applied %s): %w", src, ru.cell.Region, pos, s.cfg.CatchUpTimeout, l.AppliedGTID, e)
			}
		}
	}
	return fmt.Sprintf("%s after %s", strings.Join(notes, "; "), time.Since(start).Round(time.Millisecond)), nil
}

// sleep waits one poll interval, failing when ctx ends or an abort is
// requested.
func (s *Switcher) sleep(ctx context.Context, ru *run) error {
	select {
	case <-ctx.Done():
		if err := s.checkAbort(context.WithoutCancel(ctx), ru); err != nil {
			return err
		}
		return ctx.Err()
	case <-time.After(s.cfg.Poll):
	}
	return s.checkAbort(ctx, ru)
}
