package router

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/regionplatform/region/topo"
)

// ClockSkew is how far apart a region's MySQL clock and the controller's
// may be when History judges a transaction by its commit time: the
// binlog gives whole seconds, and regions' clocks are kept by NTP.
const ClockSkew = time.Second

// maxBack bounds how many older versions History reads to judge one
// transaction by its commit time.
const maxBack = 16

// History answers who was allowed to write a bucket when a transaction
// was written, from the routing table's versions (Store.Version), kept in
// memory: the versions from the first one asked for up to the one a
// router serves now are read once each. It is what appliers compare a
// transaction's stamp (or, without one, its commit time) with. Safe for
// concurrent use.
type History struct {
	store   *Store
	current func() *Table
	// mu guards versions: the versions read so far, by epoch, with no
	// gap from the first to the last.
	mu       sync.Mutex
	versions []*Table
}

// NewHistory returns a History of store's routing table; current returns
// the version a router serves now (Router.Table), which is how History
// learns that newer versions exist.
func NewHistory(store *Store, current func() *Table) *History {
	return &History{store: store, current: current}
}

// Check returns why region src was not allowed to write bucket b in a
// transaction stamped by a guard with epoch and cell, or, when epoch is
// 0 (no stamp), committed at t; "" when it was allowed. A stamped write
// was allowed if, at its epoch, the bucket belonged to that cell, in
// src, and was not write-forbidden; an unstamped one if some version of
// the table current within ClockSkew of t said so. A transaction older
// than the history kept in etcd is not judged ("").
func (h *History) Check(ctx context.Context, src string, b topo.Bucket, epoch uint64, cell string, t time.Time) (string, error) {
	if epoch > 0 {
		tb, err := h.version(ctx, epoch)
		if errors.Is(err, ErrNoVersion) {
			return fmt.Sprintf("stamped with epoch %d, which the routing history does not hold", epoch), nil
		}
		if err != nil {
			return "", err
		}
		return allowed(tb, b, src, cell), nil
	}
	tables, err := h.around(ctx, t.Add(-ClockSkew), t.Add(time.Second+ClockSkew))
	if err != nil || len(tables) == 0 {
		return "", err
	}
	var why string
	for _, tb := range tables {
		if why = allowed(tb, b, src, ""); why == "" {
			return "", nil
		}
	}
	return fmt.Sprintf("written without a guard's stamp at %s, when %s", t.UTC().Format(time.RFC3339), why), nil
}

// allowed returns why tb did not let region src (and cell, unless empty)
// write bucket b, or "".
func allowed(tb *Table, b topo.Bucket, src, cell string) string {
	o := tb.Owner(b)
	reg, _ := tb.Region(src)
	switch {
	case o.Region != src:
		return fmt.Sprintf("bucket %d belonged to cell %s in region %s (epoch %d)", b, o.Cell, o.Region, tb.Epoch)
	case cell != "" && o.Cell != cell:
		return fmt.Sprintf("bucket %d belonged to cell %s, not the stamp's %s (epoch %d)", b, o.Cell, cell, tb.Epoch)
	case o.State == WriteForbidden:
		return fmt.Sprintf("bucket %d was write-forbidden by switch %s (epoch %d)", b, o.Switch, tb.Epoch)
	case reg.Fenced:
		return fmt.Sprintf("region %s was fenced: %s (epoch %d)", src, reg.Reason, tb.Epoch)
	}
	return ""
}

// version returns the table of epoch.
func (h *History) version(ctx context.Context, epoch uint64) (*Table, error) {
	if err := h.load(ctx, epoch); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.versions[epoch-h.versions[0].Epoch], nil
}

// around returns the versions current at some moment of [from, to]: the
// last one made before from, and every one made within. It reads up to
// maxBack older versions to reach from; none if that is not enough (the
// transaction is older than History knows).
func (h *History) around(ctx context.Context, from, to time.Time) ([]*Table, error) {
	cur := h.current()
	if cur == nil {
		return nil, nil
	}
	if err := h.load(ctx, cur.Epoch); err != nil {
		return nil, err
	}
	for back := 0; ; back++ {
		h.mu.Lock()
		oldest := h.versions[0]
		h.mu.Unlock()
		if !oldest.Change.Time.After(from) || oldest.Epoch == 1 {
			break
		}
		if back == maxBack {
			return nil, nil
		}
		if err := h.load(ctx, oldest.Epoch-1); err != nil {
			return nil, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Versions are made in epoch order, so their times rise: start at the
	// last one made before from.
	vs := h.versions
	i := sort.Search(len(vs), func(i int) bool { return vs[i].Change.Time.After(from) })
	var out []*Table
	for i = max(i-1, 0); i < len(vs) && !vs[i].Change.Time.After(to); i++ {
		out = append(out, vs[i])
	}
	return out, nil
}

// load reads every version up to epoch that History does not hold yet:
// from the one after the newest it holds (or epoch itself, the first
// time).
func (h *History) load(ctx context.Context, epoch uint64) error {
	h.mu.Lock()
	first := epoch
	if n := len(h.versions); n > 0 {
		if epoch < h.versions[0].Epoch {
			h.mu.Unlock()
			tb, err := h.store.Version(ctx, epoch)
			if err != nil {
				return err
			}
			return h.prepend(ctx, tb)
		}
		first = h.versions[n-1].Epoch + 1
	}
	h.mu.Unlock()
	for e := first; e <= epoch; e++ {
		tb, err := h.store.Version(ctx, e)
		if err != nil {
			return err
		}
		h.mu.Lock()
		if n := len(h.versions); n == 0 || h.versions[n-1].Epoch+1 == tb.Epoch {
			h.versions = append(h.versions, tb)
		}
		h.mu.Unlock()
	}
	return nil
}

// prepend extends the versions held back to tb's epoch.
func (h *History) prepend(ctx context.Context, tb *Table) error {
	h.mu.Lock()
	last := h.versions[0].Epoch
	h.mu.Unlock()
	older := []*Table{tb}
	for e := tb.Epoch + 1; e < last; e++ {
		v, err := h.store.Version(ctx, e)
		if err != nil {
			return err
		}
		older = append(older, v)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.versions[0].Epoch == last {
		h.versions = append(older, h.versions...)
	}
	return nil
}
