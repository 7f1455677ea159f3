package apply

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"errors"
	"fmt"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/claim"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/tombstone"
	"github.com/regionplatform/region/config"
)

// tracksOrigin reports whether the applier records which region's change
// the rows of tb hold (Config.Origins, home-cell-wins tables).
func (a *Applier) tracksOrigin(tb *event.Table) bool {
	return a.cfg.Origins && len(tb.PK) > 0 && a.policyOf(tb).name == config.ConflictHomeCellWins
}

// homeVersion names the version column of a home-cell-wins table, else
// "" (claim.OfRow).
func (a *Applier) homeVersion(db, table string) string {
	if p, ok := a.policies[db+"."+table]; ok && p.name == config.ConflictHomeCellWins {
		return p.version
	}
	return ""
}

// claims returns the claims of the home-cell-wins changes of t (of m) in
// rows, with t's stamp, for the commit (w.claims): of a change that
// applies, or a delete that leaves its tombstone. The target may hold
// the source's change (its row, or its tombstone) when a third region's
// change of the key arrives and ties with it.
func (a *Applier) claims(m *event.Message, t *event.Txn, rows []int) []claim.Claim {
	if !a.cfg.Origins {
		return nil
	}
	var out []claim.Claim
	for _, i := range rows {
		out = append(out, claim.OfRow(t, t.Rows[i], a.cfg.Source, m.Time, a.homeVersion)...)
	}
	return out
}

// recordOrigins writes, for every probe of a tracked table whose change
// applied, that the target now holds the source's change for the key.
func (w *worker) recordOrigins(ctx context.Context, tx *sql.Tx, ps []*probe, left map[int]bool) error {
	for _, p := range ps {
		if !w.a.tracksOrigin(p.tb) || left[p.rows[0]] {
			continue
		}
		row, exists, err := currentRow(ctx, tx, p.tb, p.key())
		if err != nil {
			return err
		}
		var digest any
		if exists {
			sum := md5.Sum([]byte(row))
			digest = sum[:]
		}
		pk := p.tb.KeyText(p.key())
		sum := md5.Sum([]byte(pk))
		if _, err := tx.ExecContext(ctx, `REPLACE INTO `+binlog.MetaSchema+`.origins (db, tbl, pk_md5, pk, region, digest) VALUES (?, ?, ?, ?, ?, ?)`,
			p.tb.Schema, p.tb.Name, sum[:], tombstone.Clip(pk, 1024), w.a.cfg.Source, digest); err != nil {
			return fmt.Errorf("record the origin of %s.%s %s: %w", p.tb.Schema, p.tb.Name, pk, err)
		}
	}
	return nil
}

// originOf returns the region whose change the target holds for the
// probe's key, given the target's row (local, as currentRow read it):
// the recorded region if the row (or its absence) is still what that
// change left, else "" (changed here since: the target's own).
func originOf(ctx context.Context, tx *sql.Tx, p *probe, local string, exists bool) (string, error) {
	pk := p.tb.KeyText(p.key())
	sum := md5.Sum([]byte(pk))
	var region string
	var digest []byte
	err := tx.QueryRowContext(ctx, `SELECT region, digest FROM `+binlog.MetaSchema+`.origins WHERE db = ? AND tbl = ? AND pk_md5 = ?`,
		p.tb.Schema, p.tb.Name, sum[:]).Scan(&region, &digest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read the origin of %s.%s %s: %w", p.tb.Schema, p.tb.Name, pk, err)
	}
	if !exists {
		if digest == nil {
			return region, nil
		}
		return "", nil
	}
	cur := md5.Sum([]byte(local))
	if bytes.Equal(digest, cur[:]) {
		return region, nil
	}
	return "", nil
}
