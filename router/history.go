package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/regionplatform/region/topo"
)

// ClockSkew is how far apart a region's MySQL clock and the controller's
// may be when History judges a transaction by its commit time: the
// binlog gives whole seconds, and regions' clocks are kept by NTP.
const ClockSkew = time.Second

// maxBack bounds how many versions back from the current one History
// looks to judge a transaction by its commit time.
const maxBack = 64

// History answers who was allowed to write a bucket when a transaction
// was written, from the routing table's versions (Store.Version), each
// read from etcd once and kept in memory. It is what appliers compare a
// transaction's stamp (or, without one, its commit time) with. Safe for
// concurrent use.
type History struct {
	store   *Store
	current func() *Table
	// mu guards versions: the versions read so far, by epoch.
	mu       sync.Mutex
	versions map[uint64]*Table
}

// NewHistory returns a History of store's routing table; current returns
// the version a router serves now (Router.Table), from which History
// looks back for a transaction judged by its commit time.
func NewHistory(store *Store, current func() *Table) *History {
	return &History{store: store, current: current, versions: map[uint64]*Table{}}
}

// Check judges whether region src was allowed to write bucket b in a
// transaction stamped by a guard with epoch and cell, or, when epoch is
// 0 (no stamp), committed at t. It returns why not ("" when it was
// allowed) and the epoch it judged by: the stamp's; for an unstamped
// write the newest version around t that allowed it, or when none did
// the newest around t. A stamped write was allowed if, at its epoch,
// the bucket belonged to that cell, in src, and was not write-forbidden;
// an unstamped one if some version of the table current within
// ClockSkew of t said so. A transaction older than the history kept in
// etcd is not judged (0, ""). The answer depends only on the
// transaction and on versions, which never change: every region judges
// a change alike, whenever it arrives.
func (h *History) Check(ctx context.Context, src string, b topo.Bucket, epoch uint64, cell string, t time.Time) (uint64, string, error) {
	return h.judge(ctx, epoch, t, func(tb *Table, stamped bool) string {
		if !stamped {
			return allowed(tb, b, src, "")
		}
		return allowed(tb, b, src, cell)
	})
}

// judge answers for a write stamped with epoch (0: unstamped, committed
// at t) by why, which says what version tb did not allow ("" when it
// did): the stamp's version, or for an unstamped write the versions
// current within ClockSkew of t, newest first.
func (h *History) judge(ctx context.Context, epoch uint64, t time.Time, why func(tb *Table, stamped bool) string) (uint64, string, error) {
	if epoch > 0 {
		tb, err := h.version(ctx, epoch)
		if errors.Is(err, ErrNoVersion) {
			return epoch, fmt.Sprintf("stamped with epoch %d, which the routing history does not hold", epoch), nil
		}
		if err != nil {
			return 0, "", err
		}
		return epoch, why(tb, true), nil
	}
	tables, err := h.around(ctx, t.Add(-ClockSkew), t.Add(time.Second+ClockSkew))
	if err != nil || len(tables) == 0 {
		return 0, "", err
	}
	var w string
	for _, tb := range tables {
		if w = why(tb, false); w == "" {
			return tb.Epoch, "", nil
		}
	}
	return tables[0].Epoch, fmt.Sprintf("written without a guard's stamp at %s, when %s", t.UTC().Format(time.RFC3339), w), nil
}

// CheckGlobal is Check for a write of global table ("db.table"): src
// was allowed if it was the table's home and the table was not
// write-forbidden (a move), at the stamp's epoch or, unstamped, in some
// version current within ClockSkew of t. A table that was not global
// then was free to write.
func (h *History) CheckGlobal(ctx context.Context, src, table string, epoch uint64, t time.Time) (uint64, string, error) {
	return h.judge(ctx, epoch, t, func(tb *Table, _ bool) string { return allowedGlobal(tb, table, src) })
}

// allowedGlobal returns why tb did not let region src write global
// table, or "".
func allowedGlobal(tb *Table, table, src string) string {
	g, ok := tb.Global(table)
	reg, _ := tb.Region(src)
	switch {
	case !ok:
		return ""
	case g.Home != src:
		return fmt.Sprintf("global table %s had its home in region %s (epoch %d)", table, g.Home, tb.Epoch)
	case g.State == WriteForbidden:
		return fmt.Sprintf("global table %s was write-forbidden by switch %s (epoch %d)", table, g.Switch, tb.Epoch)
	case reg.Fenced:
		return fmt.Sprintf("region %s was fenced: %s (epoch %d)", src, reg.Reason, tb.Epoch)
	}
	return ""
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
	h.mu.Lock()
	tb, ok := h.versions[epoch]
	h.mu.Unlock()
	if ok {
		return tb, nil
	}
	tb, err := h.store.Version(ctx, epoch)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.versions[epoch] = tb
	h.mu.Unlock()
	return tb, nil
}

// around returns the versions current at some moment of [from, to]: the
// last one made before from, and every one made within, newest first. It
// looks back at most maxBack versions from the one a router serves now;
// none if that is not enough (the transaction is older than History
// judges).
func (h *History) around(ctx context.Context, from, to time.Time) ([]*Table, error) {
	cur := h.current()
	if cur == nil {
		return nil, nil
	}
	var out []*Table
	for e := cur.Epoch; e >= 1 && cur.Epoch-e <= maxBack; e-- {
		tb, err := h.version(ctx, e)
		if err != nil {
			return nil, err
		}
		if !tb.Change.Time.After(to) {
			out = append(out, tb)
		}
		if !tb.Change.Time.After(from) {
			return out, nil
		}
	}
	if len(out) > 0 && out[len(out)-1].Epoch == 1 {
		return out, nil
	}
	return nil, nil
}
