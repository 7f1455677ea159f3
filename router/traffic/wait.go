package traffic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/topo"
)

// waitRouters waits until every live router has applied epoch. A router
// that does not within AckTimeout fails the step, naming it.
func (s *Switcher) waitRouters(ctx context.Context, ru *run, epoch uint64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	start := time.Now()
	// Routers report epochs in the registry: look again as soon as it
	// changes (a watch set up before the first listing), and every poll.
	changed := s.cfg.Store.WatchRouters(ctx)
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
		if e := s.sleepOr(ctx, ru, changed); e != nil {
			if listErr != nil {
				return "", fmt.Errorf("routers did not acknowledge epoch %d: %w", epoch, listErr)
			}
			sort.Strings(behind)
			return "", fmt.Errorf("routers did not apply epoch %d within router.ack_timeout %s: %s: %w", epoch, s.cfg.AckTimeout, strings.Join(behind, ", "), e)
		}
	}
}

// waitReplication waits until, for every region the stage's buckets
// leave, every other region has applied everything that region had
// committed once the routers honoured the fence: the target region, and
// every third region too. A third region applying the old owner's last
// writes after the new owner's first ones would keep the old values
// (each source's stream is applied on its own). Fenced regions (failed
// over) are not waited for, nor a third region whose regiond does not
// answer or whose link is halted: it applies those writes when it is
// back, possibly after the new owner's (the step's detail says so, and
// continuous verification finds a row that ends different).
func (s *Switcher) waitReplication(ctx context.Context, ru *run, t *router.Table, bs []topo.Bucket, tables []string) (string, error) {
	srcs := leaving(t, bs, tables, ru.cell.Region)
	if len(srcs) == 0 {
		return "everything stays in region " + ru.cell.Region + ": nothing to wait for", nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CatchUpTimeout)
	defer cancel()
	start := time.Now()
	var notes []string
	for _, src := range srcs {
		pos, err := s.cfg.Replication.Position(ctx, src)
		if err != nil {
			return "", fmt.Errorf("position of region %s: %w", src, err)
		}
		// The target first: a third region that is down must not spend
		// the catch-up time the target needs.
		dsts := receivers(t, src)
		if i := slices.Index(dsts, ru.cell.Region); i > 0 {
			dsts[0], dsts[i] = dsts[i], dsts[0]
		}
		for _, dst := range dsts {
			err := s.waitLink(ctx, ru, src, dst, pos, dst == ru.cell.Region)
			var down *linkDown
			switch {
			case errors.As(err, &down) && dst != ru.cell.Region:
				notes = append(notes, fmt.Sprintf("%s->%s not waited for (%v): region %s applies %s's last writes when it is back, maybe after %s's", src, dst, down.err, dst, src, ru.cell.Region))
			case err != nil:
				return "", err
			default:
				notes = append(notes, fmt.Sprintf("%s->%s applied %s", src, dst, pos))
			}
		}
	}
	return fmt.Sprintf("%s after %s", strings.Join(notes, "; "), time.Since(start).Round(time.Millisecond)), nil
}

// linkDown is a link that cannot catch up by waiting: its regiond does
// not answer, or it is halted or failed.
type linkDown struct{ err error }

func (e *linkDown) Error() string { return e.err.Error() }
func (e *linkDown) Unwrap() error { return e.err }

// downAfter is how long a third region's regiond may not answer before
// a switch stops waiting for it (linkDown).
const downAfter = 2 * time.Second

// waitStep is the longest a Waiter waits on the link's target before the
// switch looks at its guards (abort, max lag) again.
const waitStep = 250 * time.Millisecond

// waitLink waits until link src->dst has applied pos. A link that is
// halted or failed, or (unless target) whose regiond has not answered
// for downAfter, is a *linkDown.
func (s *Switcher) waitLink(ctx context.Context, ru *run, src, dst, pos string, target bool) error {
	var failing time.Time // since when the regiond does not answer
	waiter, _ := s.cfg.Replication.(Waiter)
	for {
		lctx, cancel := ctx, context.CancelFunc(func() {})
		if !target { // a regiond that does not answer must not hold it up
			lctx, cancel = context.WithTimeout(ctx, downAfter)
		}
		var l Link
		var err error
		waited, covered := false, false
		if waiter != nil {
			l, covered, err = waiter.WaitApplied(lctx, src, dst, pos, waitStep)
			// A link that is not running answers at once: poll it.
			waited = err == nil && l.State == apply.StateRunning
		} else {
			l, err = s.cfg.Replication.Link(lctx, src, dst)
		}
		cancel()
		switch {
		case err == nil:
			failing = time.Time{}
		case failing.IsZero():
			failing = time.Now()
		case !target && time.Since(failing) >= downAfter:
			return &linkDown{fmt.Errorf("link %s->%s: %w", src, dst, err)}
		}
		if err == nil {
			if l.State == apply.StateHalted || l.State == apply.StatePaused || l.State == apply.StateFailed || l.State == apply.StateUnreachable {
				return &linkDown{fmt.Errorf("link %s->%s is %s: %s", src, dst, l.State, l.Error)}
			}
			if covered {
				return nil
			}
			if lag := time.Duration(l.LagSeconds * float64(time.Second)); lag > s.cfg.MaxLag {
				return fmt.Errorf("link %s->%s is %s behind, above router.max_lag %s", src, dst, lag.Round(time.Millisecond), s.cfg.MaxLag)
			}
			ok, cerr := s.cfg.Replication.Covers(src, l.AppliedGTID, pos)
			if cerr != nil {
				return cerr
			}
			if ok {
				return nil
			}
		}
		pause := s.sleep
		if waited && ctx.Err() == nil { // the target waited already: only the guards
			pause = s.checkAbort
		}
		if e := pause(ctx, ru); e != nil {
			if err != nil {
				return &linkDown{fmt.Errorf("link %s->%s: %v: %w", src, dst, err, e)}
			}
			return fmt.Errorf("link %s->%s did not apply %s within router.catch_up_timeout %s (applied %s): %w", src, dst, pos, s.cfg.CatchUpTimeout, l.AppliedGTID, e)
		}
	}
}

// leaving lists, sorted, the regions that own buckets bs in t and are
// the homes of tables (the fenced table still names the old owners),
// other than to's.
func leaving(t *router.Table, bs []topo.Bucket, tables []string, to string) []string {
	regions := make([]string, len(bs))
	for i, b := range bs {
		regions[i] = t.Owner(b).Region
	}
	return withHomes(t, regions, tables, to)
}

// receivers lists the regions that apply src's writes and must have
// applied its last ones before a switch flips: every region of t but src
// and the fenced ones.
func receivers(t *router.Table, src string) []string {
	var out []string
	for _, r := range t.Regions {
		if r.Name != src && !r.Fenced {
			out = append(out, r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// sleep waits one poll interval, failing when ctx ends or an abort is
// requested.
func (s *Switcher) sleep(ctx context.Context, ru *run) error { return s.sleepOr(ctx, ru, nil) }

// sleepOr is sleep that also ends when wake receives.
func (s *Switcher) sleepOr(ctx context.Context, ru *run, wake <-chan struct{}) error {
	select {
	case <-ctx.Done():
		if err := s.checkAbort(context.WithoutCancel(ctx), ru); err != nil {
			return err
		}
		return ctx.Err()
	case <-wake:
	case <-time.After(s.cfg.Poll):
	}
	return s.checkAbort(ctx, ru)
}
