// Package tombstone keeps what a region deleted of the rows whose
// conflicts are decided by version (last-writer-wins, home-cell-wins), so
// that a delete and a concurrent change of the same key end alike in
// every region.
//
// A tombstone is, per key and deleting region, the version and a digest
// of the last row that region's delete removed here: capture records its
// own region's deletes (origin = the region), and the applier records
// the deletes it applies (origin = their source). When a change from
// region S arrives for a key the target lacks, the tombstones of the
// other regions decide (Read; the applier's conflict rules compare the
// versions). S's own tombstones do not count: S's later changes of the
// key come after its delete in its stream. A region that inserts a key
// again after a delete must give it a higher version, as a timestamp or a
// raised counter does (docs/cdc.md).
//
// Tombstones live in Table, never replicated; capture expires them after
// a retention longer than any outage replication is meant to survive.
package tombstone

import (
	"context"
	"crypto/md5"
	"database/sql"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/regionplatform/region/cdc/event"
)

// Table holds the tombstones of one region's MySQL.
const Table = "_region.tombstones"

// Schema creates Table.
const Schema = `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	pk_md5 BINARY(16) NOT NULL,
	origin VARCHAR(64) NOT NULL COMMENT 'the region whose delete this is',
	pk VARCHAR(1024) NOT NULL,
	version TEXT NOT NULL COMMENT 'the deleted row''s version, as the event format encodes it',
	gtid VARCHAR(256) NOT NULL COMMENT 'the deleting transaction, in its region',
	row_md5 BINARY(16) NOT NULL COMMENT 'Digest of the deleted row',
	deleted_at TIMESTAMP(6) NOT NULL COMMENT 'when it was recorded here',
	PRIMARY KEY (db, tbl, pk_md5, origin),
	KEY (deleted_at)
) ENGINE=InnoDB`

// Retention is how long a tombstone is kept: far longer than a Kafka
// retention or an outage replication is meant to survive; a change
// delayed longer than that could bring a deleted row back.
const Retention = 14 * 24 * time.Hour

// Tombstone is one region's delete of one key.
type Tombstone struct {
	Table *event.Table
	// Key is the deleted row's image (its primary key and, for Digest,
	// every column).
	Key     []event.Value
	Origin  string
	Version event.Value
	GTID    string
}

// Collect returns the tombstones of t's deletes in tables whose
// version column version names ("" for tables without tombstones),
// origin being the region whose transaction t is. An update that changes
// a row's primary key deletes the old key.
func Collect(t *event.Txn, origin string, version func(db, table string) string) []Tombstone {
	var out []Tombstone
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		if r.Op == event.Insert || len(tb.PK) == 0 || (r.Op == event.Update && !tb.KeyChanged(r.Before, r.After)) {
			continue
		}
		v := version(tb.Schema, tb.Name)
		col := tb.ColIndex(v)
		if v == "" || col < 0 {
			continue
		}
		out = append(out, Tombstone{Table: tb, Key: r.Before, Origin: origin, Version: r.Before[col], GTID: t.GTID})
	}
	return out
}

// Execer runs statements (a *sql.DB or *sql.Tx).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write records ts in order: a later tombstone of the same key and
// origin replaces an earlier one (in one statement too: the upsert keeps
// the last row of a key).
func Write(ctx context.Context, db Execer, ts []Tombstone) error {
	for len(ts) > 0 {
		n := min(len(ts), 200)
		var b strings.Builder
		args := make([]any, 0, 8*n)
		b.WriteString("REPLACE INTO " + Table + " (db, tbl, pk_md5, origin, pk, version, gtid, row_md5, deleted_at) VALUES ")
		for i, t := range ts[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			v, err := t.Version.MarshalJSON()
			if err != nil {
				return fmt.Errorf("tombstone of %s.%s: version: %w", t.Table.Schema, t.Table.Name, err)
			}
			pk := t.Table.KeyText(t.Key)
			sum := md5.Sum([]byte(pk))
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))")
			args = append(args, t.Table.Schema, t.Table.Name, sum[:], t.Origin, Clip(pk, 1024), string(v), t.GTID, Digest(t.Key))
		}
		if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record tombstones: %w", err)
		}
		ts = ts[n:]
	}
	return nil
}

// Deleted is one region's tombstone of a key, as Read returns it.
type Deleted struct {
	// Origin is the deleting region.
	Origin string
	// Version is the deleted row's version.
	Version event.Value
	// Row is the deleted row's Digest.
	Row []byte
}

// Digest identifies a row image: the same row, as any region's binlog
// renders it, has the same digest.
func Digest(img []event.Value) []byte {
	h := md5.New()
	for _, v := range img {
		js, err := v.MarshalJSON()
		if err != nil { // a value that cannot travel: its Go rendering
			js = fmt.Appendf(nil, "%#v", v.V)
		}
		h.Write(js)
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// Read returns the tombstones of tb's key img left by regions other than
// except, ordered by region.
func Read(ctx context.Context, db *sql.DB, tb *event.Table, img []event.Value, except string) ([]Deleted, error) {
	pk := tb.KeyText(img)
	sum := md5.Sum([]byte(pk))
	rows, err := db.QueryContext(ctx, "SELECT origin, version, row_md5 FROM "+Table+" WHERE db = ? AND tbl = ? AND pk_md5 = ? AND origin <> ? ORDER BY origin",
		tb.Schema, tb.Name, sum[:], except)
	if err != nil {
		return nil, fmt.Errorf("read tombstones of %s.%s %s: %w", tb.Schema, tb.Name, pk, err)
	}
	defer rows.Close()
	var out []Deleted
	for rows.Next() {
		var d Deleted
		var js string
		if err := rows.Scan(&d.Origin, &js, &d.Row); err != nil {
			return nil, fmt.Errorf("read tombstones of %s.%s %s: %w", tb.Schema, tb.Name, pk, err)
		}
		if err := d.Version.UnmarshalJSON([]byte(js)); err != nil {
			return nil, fmt.Errorf("tombstone of %s.%s %s by %s: version %q: %w", tb.Schema, tb.Name, pk, d.Origin, js, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tombstones of %s.%s %s: %w", tb.Schema, tb.Name, pk, err)
	}
	return out, nil
}

// Expire deletes up to limit tombstones recorded before cutoff and
// returns how many it deleted.
func Expire(ctx context.Context, db Execer, cutoff time.Time, limit int) (int64, error) {
	res, err := db.ExecContext(ctx, "DELETE FROM "+Table+" WHERE deleted_at < ? LIMIT ?", cutoff.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("expire tombstones: %w", err)
	}
	return res.RowsAffected()
}

var decimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Compare orders two values of one version column as MySQL orders the
// column: numbers (and decimal texts) by value, other texts (DATETIME
// and TIMESTAMP as the binlog renders them, fixed width per column) byte
// by byte; NULL first. It returns -1, 0 or 1.
func Compare(a, b event.Value) int {
	switch {
	case a.V == nil && b.V == nil:
		return 0
	case a.V == nil:
		return -1
	case b.V == nil:
		return 1
	}
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a.Text(), b.Text())
}

func number(v event.Value) (*big.Rat, bool) {
	switch x := v.V.(type) {
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	}
	s := v.Text()
	if !decimal.MatchString(s) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// Clip shortens s to at most n characters (a key's text for a column of
// n), marking the cut with an ellipsis; bytes that are not UTF-8 (a
// binary key) are written as \xNN (Printable).
func Clip(s string, n int) string {
	s = Printable(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Printable is s with every byte that is not part of valid UTF-8 written
// as \xNN, so that a binary value (a BINARY key, a BLOB in a row's JSON)
// can be stored in a text column of a log and still be read back exactly.
func Printable(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, "\\x%02X", s[0])
		} else {
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
