package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNoTable is returned when etcd holds no routing table yet: the first
// regiond of a deployment writes it at start.
var ErrNoTable = errors.New("no routing table in etcd yet: start a regiond of the deployment, which writes the first one")

// Store keeps the routing table in etcd: the current version under
// PREFIX/route/table and every version under PREFIX/route/history/EPOCH,
// written together in one etcd transaction.
type Store struct {
	c      *clientv3.Client
	prefix string
}

// NewStore returns a store for the deployment whose etcd key prefix is
// prefix (config.Etcd.Prefix, e.g. "/region/").
func NewStore(c *clientv3.Client, prefix string) *Store {
	return &Store{c: c, prefix: prefix + "route/"}
}

// Client is the store's etcd client.
func (s *Store) Client() *clientv3.Client { return s.c }

func (s *Store) tableKey() string      { return s.prefix + "table" }
func (s *Store) historyPrefix() string { return s.prefix + "history/" }
func (s *Store) historyKey(epoch uint64) string {
	return fmt.Sprintf("%s%020d", s.historyPrefix(), epoch)
}

// RoutersPrefix is where live routers register (see Router).
func (s *Store) RoutersPrefix() string { return s.prefix + "routers/" }

// SwitchesPrefix is where traffic switches keep their records.
func (s *Store) SwitchesPrefix() string { return s.prefix + "switches/" }

// Init writes t as the first table unless one exists. It reports whether
// it wrote it.
func (s *Store) Init(ctx context.Context, t *Table) (bool, error) {
	if err := t.Validate(); err != nil {
		return false, fmt.Errorf("initial routing table: %w", err)
	}
	b, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.tableKey()), "=", 0)).
		Then(clientv3.OpPut(s.tableKey(), string(b)), clientv3.OpPut(s.historyKey(t.Epoch), string(b))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("write the first routing table: %w", err)
	}
	return resp.Succeeded, nil
}

// Load returns the current table and the etcd revision it was read at.
func (s *Store) Load(ctx context.Context) (*Table, int64, error) {
	resp, err := s.c.Get(ctx, s.tableKey())
	if err != nil {
		return nil, 0, fmt.Errorf("read the routing table: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, resp.Header.Revision, ErrNoTable
	}
	t, err := decodeTable(resp.Kvs[0].Value)
	return t, resp.Header.Revision, err
}

func decodeTable(b []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("the routing table in etcd is damaged: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("the routing table in etcd (epoch %d) is invalid: %w", t.Epoch, err)
	}
	return &t, nil
}

// ErrConflict is returned by Update when the table kept changing under it.
var ErrConflict = errors.New("the routing table changed while this change was made: retry")

// Update changes the table: it reads the current version, calls change on
// a copy, validates the result and writes it as the next epoch, only if
// the table is still the one read (compare-and-swap on its revision, in
// one etcd transaction with the history entry). When another change won
// the race, change runs again on the new version, up to a few times; an
// error from change, or an invalid result, leaves etcd as it was.
func (s *Store) Update(ctx context.Context, c Change, change func(t *Table) error) (*Table, error) {
	for try := 0; try < 8; try++ {
		resp, err := s.c.Get(ctx, s.tableKey())
		if err != nil {
			return nil, fmt.Errorf("read the routing table: %w", err)
		}
		if len(resp.Kvs) == 0 {
			return nil, ErrNoTable
		}
		cur, err := decodeTable(resp.Kvs[0].Value)
		if err != nil {
			return nil, err
		}
		next := cur.Clone()
		if err := change(next); err != nil {
			return nil, err
		}
		next.Epoch = cur.Epoch + 1
		if c.Time.IsZero() {
			c.Time = time.Now()
		}
		c.Time = c.Time.UTC()
		next.Change = c
		if err := next.Validate(); err != nil {
			return nil, fmt.Errorf("the change would make an invalid table, nothing changed: %w", err)
		}
		b, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		tr, err := s.c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(s.tableKey()), "=", resp.Kvs[0].ModRevision)).
			Then(clientv3.OpPut(s.tableKey(), string(b)), clientv3.OpPut(s.historyKey(next.Epoch), string(b))).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("write routing table epoch %d: %w", next.Epoch, err)
		}
		if tr.Succeeded {
			return next, nil
		}
	}
	return nil, ErrConflict
}

// ErrNoVersion is an epoch the routing history does not hold.
var ErrNoVersion = errors.New("not in the routing history")

// Version returns the table as it was at epoch.
func (s *Store) Version(ctx context.Context, epoch uint64) (*Table, error) {
	resp, err := s.c.Get(ctx, s.historyKey(epoch))
	if err != nil {
		return nil, fmt.Errorf("read routing table epoch %d: %w", epoch, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("routing table epoch %d: %w: see regionctl route history", epoch, ErrNoVersion)
	}
	return decodeTable(resp.Kvs[0].Value)
}

// History returns up to limit versions, newest first (all with limit 0).
func (s *Store) History(ctx context.Context, limit int) ([]*Table, error) {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.c.Get(ctx, s.historyPrefix(), opts...)
	if err != nil {
		return nil, fmt.Errorf("read routing history: %w", err)
	}
	out := make([]*Table, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := decodeTable(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("history entry %s: %w", strings.TrimPrefix(string(kv.Key), s.historyPrefix()), err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Rollback makes the placement of epoch the current table again, as a new
// epoch. It refuses while any bucket is fenced (a switch is running: abort
// it first), and when the old placement would put buckets into a region
// that is fenced now.
func (s *Store) Rollback(ctx context.Context, epoch uint64, c Change) (*Table, error) {
	old, err := s.Version(ctx, epoch)
	if err != nil {
		return nil, err
	}
	c.Kind, c.From = "rollback", epoch
	return s.Update(ctx, c, func(t *Table) error {
		for _, sp := range t.Spans {
			if sp.State == WriteForbidden {
				return fmt.Errorf("buckets %d-%d are write-forbidden by switch %s: abort it or let it finish before a rollback", sp.First, sp.Last, sp.Switch)
			}
		}
		if old.Buckets != t.Buckets {
			return fmt.Errorf("epoch %d has %d buckets, the deployment now %d: it cannot be restored", epoch, old.Buckets, t.Buckets)
		}
		for _, sp := range old.Spans {
			if sp.State == WriteForbidden {
				return fmt.Errorf("epoch %d has buckets %d-%d write-forbidden (a switch was running): roll back to an epoch without a fence", epoch, sp.First, sp.Last)
			}
			cell, ok := t.Cell(sp.Cell)
			if !ok {
				return fmt.Errorf("epoch %d puts buckets %d-%d in cell %s, which no longer exists", epoch, sp.First, sp.Last, sp.Cell)
			}
			if r, _ := t.Region(cell.Region); r.Fenced {
				return fmt.Errorf("epoch %d puts buckets %d-%d in cell %s of region %s, which is fenced now", epoch, sp.First, sp.Last, sp.Cell, cell.Region)
			}
		}
		t.Spans = append([]Span(nil), old.Spans...)
		return nil
	})
}
