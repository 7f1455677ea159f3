package traffic

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/topo"
)

// reservation is a running switch's claim on its buckets. All claims live
// in one etcd key, changed by compare-and-swap, so two switches on
// overlapping buckets can never both start: the second is refused before
// it changes anything.
type reservation struct {
	ID      string `json:"id"`
	Buckets string `json:"buckets"`
}

func (s *Switcher) reservationsKey() string { return s.cfg.Store.SwitchesPrefix() + "active" }

// reserve claims ranges for switch id, or fails naming the switch that
// holds an overlapping bucket.
func (s *Switcher) reserve(ctx context.Context, id string, ranges []topo.Range, n int) error {
	return s.updateReservations(ctx, func(rs []reservation) ([]reservation, error) {
		for _, r := range rs {
			held, err := topo.ParseBuckets(r.Buckets, n)
			if err != nil {
				return nil, fmt.Errorf("reservation of switch %s is damaged: %w", r.ID, err)
			}
			for _, a := range ranges {
				for _, b := range held {
					if a.First <= b.Last && b.First <= a.Last {
						return nil, fmt.Errorf("buckets: bucket %d is being moved by switch %s: wait for it or abort it (regionctl switch abort %s)", max(a.First, b.First), r.ID, r.ID)
					}
				}
			}
		}
		var parts []topo.Bucket
		for _, a := range ranges {
			for b := a.First; b <= a.Last; b++ {
				parts = append(parts, b)
			}
		}
		return append(rs, reservation{ID: id, Buckets: topo.FormatBuckets(parts)}), nil
	})
}

// reservations returns the running switches' claims.
func (s *Switcher) reservations(ctx context.Context) ([]reservation, error) {
	resp, err := s.cfg.Store.Client().Get(ctx, s.reservationsKey())
	if err != nil {
		return nil, fmt.Errorf("read switch reservations: %w", err)
	}
	var rs []reservation
	if len(resp.Kvs) > 0 {
		if err := json.Unmarshal(resp.Kvs[0].Value, &rs); err != nil {
			return nil, fmt.Errorf("switch reservations in etcd are damaged: %w", err)
		}
	}
	return rs, nil
}

// release drops switch id's claim.
func (s *Switcher) release(ctx context.Context, id string) error {
	return s.updateReservations(ctx, func(rs []reservation) ([]reservation, error) {
		out := rs[:0]
		for _, r := range rs {
			if r.ID != id {
				out = append(out, r)
			}
		}
		return out, nil
	})
}

func (s *Switcher) updateReservations(ctx context.Context, fn func([]reservation) ([]reservation, error)) error {
	c, key := s.cfg.Store.Client(), s.reservationsKey()
	for try := 0; try < 16; try++ {
		resp, err := c.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("read switch reservations: %w", err)
		}
		var rs []reservation
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(resp.Kvs) > 0 {
			if err := json.Unmarshal(resp.Kvs[0].Value, &rs); err != nil {
				return fmt.Errorf("switch reservations in etcd are damaged: %w", err)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		next, err := fn(rs)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(next)
		tr, err := c.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(b))).Commit()
		if err != nil {
			return fmt.Errorf("write switch reservations: %w", err)
		}
		if tr.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("switch reservations kept changing: retry")
}
