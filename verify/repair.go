package verify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/topo"
)

// Authority decides whose copy of a differing row wins. images holds
// every region's image of the row (nil: the region lacks it); it returns
// the winning region and why, or an error to leave the row alone.
// It is called from one goroutine.
type Authority func(table string, images map[string]Image) (region, reason string, err error)

// FromRegion makes region's copy win for every row (--from REGION).
func FromRegion(region string) Authority {
	return func(string, map[string]Image) (string, string, error) {
		return region, "--from " + region, nil
	}
}

// FromOwner makes the owning region's copy win: the region that owner
// says owns the bucket of the row's shard column (the table's
// shard_column in tables), hashed as the router hashes users among
// buckets. owner is usually the live routing table's. Rows of global
// tables (no shard column) have no owner: repair them with FromRegion.
func FromOwner(tables []config.Table, buckets int, owner func(topo.Bucket) string) Authority {
	shard := map[string]string{}
	for _, t := range tables {
		shard[t.Name] = t.ShardColumn
	}
	return func(table string, images map[string]Image) (string, string, error) {
		col := shard[table]
		if col == "" {
			return "", "", fmt.Errorf("%s is a global table (no shard_column in replication.tables): no region owns its rows; repair it with --from REGION", table)
		}
		var key *string
		for _, img := range images {
			if img == nil {
				continue
			}
			v, ok := img[col]
			if !ok {
				return "", "", fmt.Errorf("%s has no shard column %q: fix replication.tables", table, col)
			}
			if v == nil {
				return "", "", fmt.Errorf("shard column %s is NULL: no region owns the row; repair it with --from REGION", col)
			}
			if key != nil && *key != *v {
				return "", "", fmt.Errorf("shard column %s differs between regions (%s, %s): the owner is ambiguous; repair it with --from REGION", col, *key, *v)
			}
			key = v
		}
		b := topo.BucketOfString(*key, buckets)
		region := owner(b)
		if region == "" {
			return "", "", fmt.Errorf("bucket %d has no owner in the routing table", b)
		}
		return region, fmt.Sprintf("%s owns bucket %d (%s=%s)", region, b, col, *key), nil
	}
}

// Repair actions.
const (
	Insert = "insert"
	Update = "update"
	Delete = "delete"
)

// Change is one row Repair wrote in one region.
type Change struct {
	Region string `json:"region"`
	Table  string `json:"table"`
	Key    string `json:"key"`
	// Action is insert, update or delete.
	Action string `json:"action"`
	// Authority is the region whose image won, and Reason why.
	Authority string `json:"authority"`
	Reason    string `json:"reason"`
	// Columns are the columns an update set.
	Columns []string `json:"columns,omitempty"`
	// Before and After are the region's image before and after.
	Before Image `json:"before"`
	After  Image `json:"after"`
}

// Skip is a differing row Repair left alone, and why.
type Skip struct {
	Table  string `json:"table"`
	Key    string `json:"key"`
	Region string `json:"region,omitempty"`
	Reason string `json:"reason"`
}

// RepairResult is what Repair changed and what it left.
type RepairResult struct {
	Changes []Change `json:"changes"`
	Skipped []Skip   `json:"skipped"`
}

// RepairsTable records every row Repair wrote, in the region it wrote
// it; the record is written in the same transaction as the row.
const RepairsTable = binlog.MetaSchema + ".verify_repairs"

var repairsSchema = []string{
	"CREATE DATABASE IF NOT EXISTS " + binlog.MetaSchema,
	`CREATE TABLE IF NOT EXISTS ` + RepairsTable + ` (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		repaired_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		tbl VARCHAR(130) NOT NULL,
		pk VARCHAR(1024) NOT NULL,
		action VARCHAR(8) NOT NULL,
		authority VARCHAR(64) NOT NULL,
		reason VARCHAR(512) NOT NULL,
		before_image MEDIUMTEXT NULL,
		after_image MEDIUMTEXT NULL
	) ENGINE=InnoDB`,
}

// Repair writes, for every row difference in res, the authoritative
// image (auth decides whose) into each region whose copy differs from
// it. Regions must be those res was compared on, in the same order.
// Only res.Diffs are repaired: when res kept fewer than DiffsTotal,
// compare and repair again.
//
// Each row is written directly in each diverged region, in its own
// transaction that also inserts a record into _region.verify_repairs.
// Capture skips every transaction that writes to the _region schema
// (that is how it recognises the appliers' writes, which carry their
// checkpoint row), so a repair is never published: it cannot echo back
// or loop, and it does not race the row's owner through replication.
// Writing at the owner and letting replication carry it was rejected:
// the owner already holds the right image, so there is nothing there
// for capture to publish (an UPDATE to the same values logs no row),
// and an extra row in another region cannot be deleted that way.
//
// Inside the transaction the row is read again with FOR UPDATE; if it
// no longer matches what Compare saw (the application or an applier
// changed it since), it is left alone and reported in Skipped.
func Repair(ctx context.Context, regions []Region, res *Result, auth Authority) (*RepairResult, error) {
	if len(regions) != len(res.Regions) {
		return nil, fmt.Errorf("verify: repair: %d regions given, the result compared %d", len(regions), len(res.Regions))
	}
	conns := map[string]*sql.Conn{}
	for i, r := range regions {
		if r.Name != res.Regions[i] {
			return nil, fmt.Errorf("verify: repair: region %d is %s, the result compared %s", i, r.Name, res.Regions[i])
		}
	}
	out := &RepairResult{Changes: []Change{}, Skipped: []Skip{}}
	if len(res.Diffs) == 0 {
		return out, nil
	}
	for _, r := range regions {
		conn, err := session(ctx, r)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		for _, q := range repairsSchema {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("verify: region %s: create %s: %w", r.Name, RepairsTable, err)
			}
		}
		conns[r.Name] = conn
	}
	schemas := map[string]*schema{}
	for _, g := range groupDiffs(res) {
		s := schemas[g.table]
		if s == nil {
			var err error
			if s, err = loadSchema(ctx, conns[res.Reference], g.table); err != nil {
				return nil, fmt.Errorf("verify: repair: %w", err)
			}
			schemas[g.table] = s
		}
		if s.rowKey {
			out.Skipped = append(out.Skipped, Skip{Table: g.table, Key: g.key, Reason: "the table has no primary key: repair cannot tell its equal rows apart; copy the reference's rows by hand (or add a primary key)"})
			continue
		}
		winner, reason, err := auth(g.table, g.images)
		if err == nil {
			if _, ok := conns[winner]; !ok {
				err = fmt.Errorf("region %s is not one of the compared regions %s", winner, strings.Join(res.Regions, ", "))
			}
		}
		if err != nil {
			out.Skipped = append(out.Skipped, Skip{Table: g.table, Key: g.key, Reason: err.Error()})
			continue
		}
		want := g.images[winner]
		for _, r := range res.Regions {
			if g.images[r].Same(want) {
				continue
			}
			ch := Change{Region: r, Table: g.table, Key: g.key, Authority: winner, Reason: reason, Before: g.images[r], After: want}
			err := writeRow(ctx, conns[r], s, g.keyValues, &ch)
			var stale errStale
			switch {
			case errors.As(err, &stale):
				out.Skipped = append(out.Skipped, Skip{Table: g.table, Key: g.key, Region: r, Reason: stale.Error()})
			case err != nil:
				return out, fmt.Errorf("verify: repair %s %s in region %s: %w", g.table, g.key, r, err)
			default:
				out.Changes = append(out.Changes, ch)
			}
		}
	}
	return out, nil
}

// group is one differing row with every region's image.
type group struct {
	table, key string
	keyValues  []string
	images     map[string]Image
}

// groupDiffs gathers the differences of each row, in the order found.
func groupDiffs(res *Result) []*group {
	var out []*group
	byKey := map[string]*group{}
	for _, d := range res.Diffs {
		k := d.Table + "\x00" + strings.Join(d.KeyValues, "\x00")
		g := byKey[k]
		if g == nil {
			g = &group{table: d.Table, key: d.Key, keyValues: d.KeyValues, images: map[string]Image{}}
			for _, r := range res.Regions {
				g.images[r] = d.Reference // a region with no difference holds the reference's image
			}
			byKey[k] = g
			out = append(out, g)
		}
		g.images[d.Region] = d.Image
	}
	return out
}

// errStale is a row that changed since it was compared.
type errStale struct{ error }

// writeRow makes one region's row ch.After, in a transaction with its
// record in RepairsTable, if the row still is ch.Before.
func writeRow(ctx context.Context, conn *sql.Conn, s *schema, key []string, ch *Change) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var conds []string
	var keyArgs []any
	for i, c := range s.pkCols() {
		conds = append(conds, quote(c)+" = ?")
		keyArgs = append(keyArgs, key[i])
	}
	where := strings.Join(conds, " AND ")
	rows, err := readRows(ctx, tx, fmt.Sprintf("SELECT %s FROM %s WHERE %s FOR UPDATE", quoteAll(s.cols), s.quoted(), where), keyArgs, len(s.cols))
	if err != nil {
		return err
	}
	var now Image
	if len(rows) > 0 {
		now = s.image(rows[0])
	}
	if !now.Same(ch.Before) {
		return errStale{fmt.Errorf("the row changed since it was compared: verify again")}
	}
	var q string
	var args []any
	switch {
	case ch.After == nil:
		ch.Action = Delete
		q, args = fmt.Sprintf("DELETE FROM %s WHERE %s", s.quoted(), where), keyArgs
	case ch.Before == nil:
		ch.Action = Insert
		var cols []string
		for i, c := range s.cols {
			if !s.isGenerated(i) {
				cols = append(cols, c)
				args = append(args, arg(ch.After[c]))
			}
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
		q = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", s.quoted(), quoteAll(cols), marks)
	default:
		ch.Action = Update
		var sets []string
		for i, c := range s.cols {
			if !s.isGenerated(i) && !sameValue(ch.Before[c], ch.After[c]) {
				ch.Columns = append(ch.Columns, c)
				sets = append(sets, quote(c)+" = ?")
				args = append(args, arg(ch.After[c]))
			}
		}
		if len(sets) == 0 {
			return fmt.Errorf("only generated columns differ (%s): the regions compute them differently; make the table's definition the same in every region", strings.Join(generatedCols(s), ", "))
		}
		q = fmt.Sprintf("UPDATE %s SET %s WHERE %s", s.quoted(), strings.Join(sets, ", "), where)
		args = append(args, keyArgs...)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	before, _ := json.Marshal(ch.Before)
	after, _ := json.Marshal(ch.After)
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+RepairsTable+
		" (tbl, pk, action, authority, reason, before_image, after_image) VALUES (?, ?, ?, ?, ?, ?, ?)",
		ch.Table, ch.Key, ch.Action, ch.Authority, ch.Reason, string(before), string(after)); err != nil {
		return fmt.Errorf("record in %s: %w", RepairsTable, err)
	}
	return tx.Commit()
}

// arg is a value to write (nil: NULL).
func arg(v *string) any {
	if v == nil {
		return nil
	}
	return *v
}
