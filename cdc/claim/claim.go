// Package claim keeps, for the rows of home-cell-wins tables, the
// routing stamp under which each region made its last change of a key,
// so that two changes made on the same version are decided alike in
// every region: by whether each writer owned the row's bucket at the
// epoch it wrote (router.History judges the stamp), never by who owns
// the bucket when the change happens to arrive.
//
// A claim is, per key and region, the version the change left (a
// delete's: the deleted row's), the guard's stamp (epoch and cell, or
// none) and the source commit time. Capture records its own region's
// changes (origin = the region) as it reads them, before it publishes
// them; the applier records the changes it applies (origin = their
// source) where the target may hold a third region's change. The
// applier reads the claim of the change the target holds when an
// incoming change ties with it.
//
// Claims live in Table, never replicated; capture expires them with the
// tombstones (cdc/tombstone), after the same retention.
package claim

import (
	"context"
	"crypto/md5"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
)

// Table holds the claims of one region's MySQL.
const Table = "_region.claims"

// Schema creates Table.
const Schema = `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	db VARCHAR(64) NOT NULL,
	tbl VARCHAR(64) NOT NULL,
	pk_md5 BINARY(16) NOT NULL,
	origin VARCHAR(64) NOT NULL COMMENT 'the region whose change this is',
	pk VARCHAR(1024) NOT NULL,
	version TEXT NOT NULL COMMENT 'the version the change left (a delete: the deleted row''s), as the event format encodes it',
	epoch BIGINT UNSIGNED NOT NULL COMMENT 'the guard stamp''s routing epoch; 0: written without a guard',
	cell VARCHAR(64) NOT NULL COMMENT 'the guard stamp''s cell',
	committed_at TIMESTAMP(6) NULL COMMENT 'the source commit time (seconds, from its binlog)',
	gtid VARCHAR(256) NOT NULL COMMENT 'the changing transaction, in its region',
	recorded_at TIMESTAMP(6) NOT NULL,
	PRIMARY KEY (db, tbl, pk_md5, origin),
	KEY (recorded_at)
) ENGINE=InnoDB`

// Claim is one region's change of one key.
type Claim struct {
	Table *event.Table
	// Key is the changed row's image (its primary key).
	Key    []event.Value
	Origin string
	Stamp
}

// Stamp is what a claim says of the change.
type Stamp struct {
	// Version is the version the change left.
	Version event.Value
	// Epoch and Cell are the guard's stamp (0 and "": none); At is the
	// source commit time, which judges a change without a stamp.
	Epoch uint64
	Cell  string
	At    time.Time
	GTID  string
}

// Collect returns the claims of t's changes in tables whose version
// column version names ("" for tables without claims): origin is the
// region whose transaction t is, at its commit time. An update that
// changes a row's primary key claims the old key (deleted) and the new.
func Collect(t *event.Txn, origin string, at time.Time, version func(db, table string) string) []Claim {
	var out []Claim
	for _, r := range t.Rows {
		out = append(out, OfRow(t, r, origin, at, version)...)
	}
	return out
}

// OfRow returns the claims of one row change of t, as Collect does.
func OfRow(t *event.Txn, r event.Row, origin string, at time.Time, version func(db, table string) string) []Claim {
	tb := &t.Tables[r.T]
	v := version(tb.Schema, tb.Name)
	col := tb.ColIndex(v)
	if v == "" || col < 0 || len(tb.PK) == 0 {
		return nil
	}
	stamp := func(img []event.Value) Claim {
		return Claim{Table: tb, Key: img, Origin: origin, Stamp: Stamp{Version: img[col], Epoch: t.Epoch, Cell: t.Cell, At: at, GTID: t.GTID}}
	}
	var out []Claim
	if r.Op != event.Insert && (r.Op == event.Delete || tb.KeyChanged(r.Before, r.After)) {
		out = append(out, stamp(r.Before))
	}
	if r.Op != event.Delete {
		out = append(out, stamp(r.After))
	}
	return out
}

// Write records cs in order: a later claim of the same key and origin
// replaces an earlier one (in one statement too: the upsert keeps the
// last row of a key).
func Write(ctx context.Context, db tombstone.Execer, cs []Claim) error {
	for len(cs) > 0 {
		n := min(len(cs), 200)
		var b strings.Builder
		args := make([]any, 0, 10*n)
		b.WriteString("REPLACE INTO " + Table + " (db, tbl, pk_md5, origin, pk, version, epoch, cell, committed_at, gtid, recorded_at) VALUES ")
		for i, c := range cs[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			v, err := c.Version.MarshalJSON()
			if err != nil {
				return fmt.Errorf("claim of %s.%s: version: %w", c.Table.Schema, c.Table.Name, err)
			}
			pk := c.Table.KeyText(c.Key)
			sum := md5.Sum([]byte(pk))
			var at any
			if !c.At.IsZero() {
				at = c.At.UTC()
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6))")
			args = append(args, c.Table.Schema, c.Table.Name, sum[:], c.Origin, tombstone.Clip(pk, 1024), string(v), c.Epoch, c.Cell, at, c.GTID)
		}
		if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record claims: %w", err)
		}
		cs = cs[n:]
	}
	return nil
}

// Queryer reads rows (a *sql.DB or *sql.Tx).
type Queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Read returns origin's claim of tb's key img, if it holds one.
func Read(ctx context.Context, db Queryer, tb *event.Table, img []event.Value, origin string) (Stamp, bool, error) {
	pk := tb.KeyText(img)
	sum := md5.Sum([]byte(pk))
	var s Stamp
	var js string
	var at sql.NullTime
	err := db.QueryRowContext(ctx, "SELECT version, epoch, cell, committed_at, gtid FROM "+Table+" WHERE db = ? AND tbl = ? AND pk_md5 = ? AND origin = ?",
		tb.Schema, tb.Name, sum[:], origin).Scan(&js, &s.Epoch, &s.Cell, &at, &s.GTID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Stamp{}, false, nil
	case err != nil:
		return Stamp{}, false, fmt.Errorf("read the claim of %s.%s %s by %s: %w", tb.Schema, tb.Name, pk, origin, err)
	}
	if err := s.Version.UnmarshalJSON([]byte(js)); err != nil {
		return Stamp{}, false, fmt.Errorf("claim of %s.%s %s by %s: version %q: %w", tb.Schema, tb.Name, pk, origin, js, err)
	}
	if at.Valid {
		s.At = at.Time.UTC()
	}
	return s, true, nil
}

// Expire deletes up to limit claims recorded before cutoff and returns
// how many it deleted.
func Expire(ctx context.Context, db tombstone.Execer, cutoff time.Time, limit int) (int64, error) {
	res, err := db.ExecContext(ctx, "DELETE FROM "+Table+" WHERE recorded_at < ? LIMIT ?", cutoff.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("expire claims: %w", err)
	}
	return res.RowsAffected()
}
