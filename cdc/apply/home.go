package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/topo"
)

// Home-cell-wins decides two changes of a row made on the same version
// (neither saw the other) by what the routing history says of each:
// whether its region owned the row's bucket at the epoch it wrote
// (router.History judges the guard's stamp, or without one the commit
// time). Every region judges a change alike whenever it arrives, so the
// outcome does not depend on who owns the bucket when the change
// happens to arrive. The incoming change's stamp travels in its message;
// the stamp of the change the target holds is its claim (cdc/claim),
// recorded by the capture of the region that made it there, or by this
// applier when it applied it.

// verdict is what the routing history says of one change.
type verdict struct {
	// known: the change's stamp was found and judged.
	known bool
	// owned: its region owned the bucket at epoch, the one it was judged
	// by (the stamp's, or the one current at its commit time).
	owned bool
	epoch uint64
}

func (v verdict) String() string {
	switch {
	case !v.known:
		return "unknown"
	case v.owned:
		return fmt.Sprintf("owned it at epoch %d", v.epoch)
	}
	return fmt.Sprintf("did not own it at epoch %d", v.epoch)
}

// home decides, for home-cell-wins, an incoming change from src that
// ties with the change the target holds, made by region here. With both
// verdicts known: the change whose region owned the bucket wins; if both
// did (a forced failover's unreplicated write against the new owner's),
// the later epoch's. Without them (a change made before claims were
// recorded, or no routing history): the change of the bucket's owner now
// (f.owner). ok is false when it does not decide (neither change is the
// owner's, or both at one epoch): the table then decides as
// last-writer-wins, and why says so.
func home(src, here string, f facts) (decision, why string, ok bool) {
	in, held := f.in, f.held
	if in.known && held.known {
		switch {
		case in.owned && !held.owned, in.owned && held.owned && in.epoch > held.epoch:
			return decideApply, fmt.Sprintf("equal versions; of the bucket's writers, %s %s, %s %s", src, in, here, held), true
		case held.owned && !in.owned, in.owned && held.owned && in.epoch < held.epoch:
			return decideKeep, fmt.Sprintf("equal versions; of the bucket's writers, %s %s, %s %s", here, held, src, in), true
		}
		return "", fmt.Sprintf("equal versions; of the bucket's writers, %s %s, %s %s", src, in, here, held), false
	}
	switch f.owner {
	case src:
		return decideApply, fmt.Sprintf("equal versions; the row's home region is %s, the source (a change's stamp is unknown)", src), true
	case here:
		return decideKeep, fmt.Sprintf("equal versions; the row's home region is %s, whose change the target holds (a change's stamp is unknown)", here), true
	}
	return "", fmt.Sprintf("equal versions; neither %s nor %s is the row's home region %s", src, here, f.owner), false
}

// verdicts judges, for a home-cell-wins change of bucket b from m that
// ties (at version v) with the change the target holds, made by region
// here, both changes (Config.Ownership): the incoming one by m's stamp,
// the held one by here's claim of the key, which must be of version v.
// The target's own claims are recorded by its capture as it reads its
// binlog: when the target's is not of v yet, verdicts waits for the
// capture to catch up and reads it again. A verdict that cannot be had
// (no routing history, no claim of v, the history unreadable) is left
// unknown: home then decides by the owner now.
func (w *worker) verdicts(ctx context.Context, m *event.Message, pr *probe, b topo.Bucket, here string, v event.Value) (in, held verdict, err error) {
	own := w.a.cfg.Ownership
	if own == nil {
		return verdict{}, verdict{}, nil
	}
	judge := func(region string, epoch uint64, cell string, at time.Time) verdict {
		e, why, err := own.Check(ctx, region, b, epoch, cell, at)
		if err != nil {
			w.a.log.Warn("cannot judge a tying change: the routing history is not readable", "region", region, "bucket", b, "err", err)
			return verdict{}
		}
		return verdict{known: true, owned: why == "", epoch: e}
	}
	in = judge(w.a.cfg.Source, m.Txn.Epoch, m.Txn.Cell, m.Time)
	s, ok, err := claim.Read(ctx, w.a.cfg.DB, pr.tb, pr.key(), here)
	if err != nil {
		return in, held, err
	}
	if (!ok || tombstone.Compare(s.Version, v) != 0) && here == w.a.cfg.Target && w.a.cfg.Local != nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.a.cfg.Local.Recorded(rctx)
		cancel()
		if err != nil {
			return in, held, fmt.Errorf("%w: %w", ErrLocalUnknown, err)
		}
		if s, ok, err = claim.Read(ctx, w.a.cfg.DB, pr.tb, pr.key(), here); err != nil {
			return in, held, err
		}
	}
	if !ok || tombstone.Compare(s.Version, v) != 0 {
		return in, held, nil
	}
	return in, judge(here, s.Epoch, s.Cell, s.At), nil
}
