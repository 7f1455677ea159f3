package traffic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Switch states.
const (
	Running = "running"
	// Done: every bucket serves from the target cell.
	Done = "done"
	// Aborted: a guard or an operator stopped the switch; the buckets not
	// yet flipped serve from their old cells again.
	Aborted = "aborted"
	// Failed: the switch stopped and could not lift its fence; the
	// record's steps say which buckets stay write-forbidden (abort it again).
	Failed = "failed"
)

// Record is the durable account of one switch, kept in etcd and updated at
// every step: who asked, why, which buckets, each step's start and end,
// and the write-forbidden window users saw.
type Record struct {
	ID     string `json:"id"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// Buckets is the requested bucket list ("0-255,300"); Count how many.
	Buckets string `json:"buckets"`
	Count   int    `json:"count"`
	// Tables are the global tables whose home moved to ToRegion, from
	// FromHomes (in the same order).
	Tables    []string `json:"tables,omitempty"`
	FromHomes []string `json:"from_homes,omitempty"`
	// To is the target cell, in region ToRegion; From the cells that owned
	// the buckets when the switch started.
	To       string   `json:"to"`
	ToRegion string   `json:"to_region"`
	From     []string `json:"from"`
	// Stages are the cumulative percentages moved stage by stage.
	Stages []int  `json:"stages"`
	State  string `json:"state"`
	Steps  []Step `json:"steps"`
	// WriteForbiddenMS is the longest time any bucket was write-forbidden:
	// from the commit of its fence to the commit of its flip (or unfence).
	WriteForbiddenMS int64     `json:"write_forbidden_ms"`
	Started          time.Time `json:"started"`
	Ended            time.Time `json:"ended,omitzero"`
	Error            string    `json:"error,omitempty"`
	// AbortRequested is set by an abort; the switch stops at its next check.
	AbortRequested string `json:"abort_requested,omitempty"`
	// Epochs are the routing table versions the switch made.
	Epochs []uint64 `json:"epochs,omitempty"`
}

// Step is one step of a switch.
type Step struct {
	// Name is guard, fence, wait-routers, wait-replication, flip or unfence.
	Name   string    `json:"name"`
	Stage  int       `json:"stage"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}

// newID returns a sortable, unique switch id: sw-YYYYMMDDTHHMMSS-xxxx.
func newID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "sw-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// idTime is when switch id was started (from newID's format).
func idTime(id string) (time.Time, bool) {
	ts, _, ok := strings.Cut(strings.TrimPrefix(id, "sw-"), "-")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T150405", ts)
	return t, err == nil
}

// records keeps switch records in etcd under prefix.
type records struct {
	c      *clientv3.Client
	prefix string
}

func (r records) key(id string) string { return r.prefix + id }

func (r records) put(ctx context.Context, rec *Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := r.c.Put(ctx, r.key(rec.ID), string(b)); err != nil {
		return fmt.Errorf("record switch %s: %w", rec.ID, err)
	}
	return nil
}

func (r records) get(ctx context.Context, id string) (*Record, error) {
	resp, err := r.c.Get(ctx, r.key(id))
	if err != nil {
		return nil, fmt.Errorf("read switch %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: %s (see regionctl switch history)", ErrNotFound, id)
	}
	var rec Record
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		return nil, fmt.Errorf("switch record %s is damaged: %w", id, err)
	}
	return &rec, nil
}

// list returns every record, newest first.
func (r records) list(ctx context.Context) ([]Record, error) {
	resp, err := r.c.Get(ctx, r.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list switches: %w", err)
	}
	out := make([]Record, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var rec Record
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			continue // a damaged record must not hide the others; get reports it
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}
