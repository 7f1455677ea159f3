package verify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Result is what Compare found.
type Result struct {
	// Reference is the region the others are compared with (the first).
	Reference string        `json:"reference"`
	Regions   []string      `json:"regions"`
	Tables    []TableResult `json:"tables"`
	// Diffs are the row differences, at most Config.MaxDiffs of them;
	// DiffsTotal counts them all.
	Diffs      []RowDiff `json:"diffs"`
	DiffsTotal int       `json:"diffs_total"`
	Seconds    float64   `json:"seconds"`
}

// TableResult counts what Compare did with one table.
type TableResult struct {
	Table string `json:"table"`
	// Chunks compared and rows in them (the reference's count).
	Chunks int   `json:"chunks"`
	Rows   int64 `json:"rows"`
	// DifferingChunks still differed after every re-check, and
	// DifferingRows are the row differences found in them.
	DifferingChunks int `json:"differing_chunks"`
	DifferingRows   int `json:"differing_rows"`
	// RecheckedChunks differed at first and were equal on a re-check
	// (replication lag that drained).
	RecheckedChunks int `json:"rechecked_chunks"`
	// Error says why the table could not be compared (no primary key,
	// missing in a region, columns differ...).
	Error string `json:"error,omitempty"`
}

// Equal reports whether every table was compared and found identical in
// every region.
func (r *Result) Equal() bool {
	for _, t := range r.Tables {
		if t.Error != "" || t.DifferingChunks > 0 {
			return false
		}
	}
	return r.DiffsTotal == 0
}

// Compare compares tables ("db.table") across regions, chunk by chunk,
// while replication may be running (see the package doc). regions[0] is
// the reference; at least two are needed. A table that cannot be compared
// is reported in its TableResult; an error is returned only for bad
// arguments, a region that cannot be reached, or ctx ending.
//
// It only reads. Every region is read through one connection of its pool
// with time_zone '+00:00', so that TIMESTAMP values compare alike.
func Compare(ctx context.Context, cfg Config, regions []Region, tables []string) (*Result, error) {
	return compare(ctx, cfg, regions, tables, time.Time{})
}

// compare is Compare whose re-checks also stop at until (zero: never).
func compare(ctx context.Context, cfg Config, regions []Region, tables []string, until time.Time) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if len(regions) < 2 {
		return nil, fmt.Errorf("verify: %d region(s) given: compare needs at least two", len(regions))
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	c := &comparer{cfg: cfg, log: log, until: until}
	res := &Result{Reference: regions[0].Name, Tables: []TableResult{}, Diffs: []RowDiff{}}
	for _, r := range regions {
		res.Regions = append(res.Regions, r.Name)
		conn, err := session(ctx, r)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		c.conns = append(c.conns, conn)
	}
	c.names = res.Regions
	for _, t := range tables {
		tr, diffs, err := c.table(ctx, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			tr.Error = err.Error()
		}
		log.Info("verify: table compared", "table", t, "chunks", tr.Chunks, "rows", tr.Rows,
			"differing_rows", tr.DifferingRows, "rechecked_chunks", tr.RecheckedChunks, "error", tr.Error)
		res.Tables = append(res.Tables, tr)
		res.DiffsTotal += len(diffs)
		if room := cfg.MaxDiffs - len(res.Diffs); room > 0 {
			res.Diffs = append(res.Diffs, diffs[:min(room, len(diffs))]...)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// session takes one connection of a region's pool for verify's reads and
// writes, in UTC.
func session(ctx context.Context, r Region) (*sql.Conn, error) {
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: region %s: connect: %w", r.Name, err)
	}
	// UTC, as capture renders TIMESTAMPs; no foreign key checks, so that
	// a repair writes exactly the rows it records (a checked delete would
	// also change or refuse child rows, an insert a child whose parent
	// this region lacks; each table is compared and repaired itself).
	if _, err := conn.ExecContext(ctx, "SET SESSION time_zone = '+00:00', foreign_key_checks = 0"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("verify: region %s: %w", r.Name, err)
	}
	return conn, nil
}

// comparer holds one Compare's connections, one per region.
type comparer struct {
	cfg   Config
	log   *slog.Logger
	until time.Time // re-checks stop here too (zero: after cfg.Rechecks)
	names []string
	conns []*sql.Conn
}

// sum is a chunk's row count and row-hash XOR.
type sum struct {
	rows   int64
	h1, h2 string
}

// table compares one table. An error leaves the counts so far.
func (c *comparer) table(ctx context.Context, name string) (TableResult, []RowDiff, error) {
	tr := TableResult{Table: name}
	s, err := c.schema(ctx, name)
	if err != nil {
		return tr, nil, err
	}
	// Pass 1: every chunk, bounds from the reference.
	var pending []chunk
	var lo []any
	for {
		hi, err := c.boundary(ctx, s, lo)
		if err != nil {
			return tr, nil, err
		}
		ch := chunk{lo: lo, hi: hi}
		sums, err := c.sums(ctx, s, ch)
		if err != nil {
			return tr, nil, err
		}
		tr.Chunks++
		tr.Rows += sums[0].rows
		if !allSame(sums) {
			pending = append(pending, ch)
		}
		if c.cfg.Pause > 0 {
			select {
			case <-ctx.Done():
				return tr, nil, ctx.Err()
			case <-time.After(c.cfg.Pause):
			}
		}
		if tr.Chunks%100 == 0 {
			c.log.Info("verify: comparing", "table", name, "chunks", tr.Chunks, "rows", tr.Rows, "differing_chunks", len(pending))
		}
		if hi == nil {
			break
		}
		lo = hi
	}
	// Re-check differing chunks together: replication lag drains.
	first := len(pending)
	if first > 0 && c.cfg.Rechecks > 0 {
		c.log.Info("verify: chunks differ, re-checking", "table", name, "chunks", first,
			"rechecks", c.cfg.Rechecks, "delay", c.cfg.RecheckDelay)
	}
	for round := 0; round < c.cfg.Rechecks && len(pending) > 0 && (c.until.IsZero() || time.Now().Before(c.until)); round++ {
		select {
		case <-ctx.Done():
			return tr, nil, ctx.Err()
		case <-time.After(c.cfg.RecheckDelay):
		}
		var still []chunk
		for _, ch := range pending {
			sums, err := c.sums(ctx, s, ch)
			if err != nil {
				return tr, nil, err
			}
			if !allSame(sums) {
				still = append(still, ch)
			}
		}
		pending = still
	}
	tr.RecheckedChunks = first - len(pending)
	// Drill down to rows, then read them again until the differences
	// that remain are the same ones: a chunk that keeps changing (rows
	// appended in one region, still on their way to the others) never has
	// equal checksums, but its older differences drain and the newer ones
	// were not there at the first read.
	found := make([][]RowDiff, len(pending))
	for i, ch := range pending {
		d, err := c.drill(ctx, s, ch)
		if err != nil {
			return tr, nil, err
		}
		found[i] = d
	}
	for round, changed := 0, true; round < c.cfg.Rechecks && changed && slices.ContainsFunc(found, func(d []RowDiff) bool { return len(d) > 0 }); round++ {
		select {
		case <-ctx.Done():
			return tr, nil, ctx.Err()
		case <-time.After(c.cfg.RecheckDelay):
		}
		changed = false
		for i, ch := range pending {
			if len(found[i]) == 0 {
				continue
			}
			d, err := c.drill(ctx, s, ch)
			if err != nil {
				return tr, nil, err
			}
			kept := persisting(found[i], d)
			changed = changed || len(kept) != len(found[i])
			found[i] = kept
		}
	}
	var diffs []RowDiff
	for _, d := range found {
		if len(d) == 0 { // equal by the time its rows were read again
			tr.RecheckedChunks++
			continue
		}
		tr.DifferingChunks++
		tr.DifferingRows += len(d)
		diffs = append(diffs, d...)
	}
	return tr, diffs, nil
}

// persisting returns the differences of later that earlier had too, the
// same rows with the same values (as later read them): a row whose values
// moved between the reads is being written, and is left to a later pass.
func persisting(earlier, later []RowDiff) []RowDiff {
	id := func(d RowDiff) [5]string {
		return [5]string{d.Region, d.Kind, d.Key, d.Reference.String(), d.Image.String()}
	}
	seen := map[[5]string]int{}
	for _, d := range earlier {
		seen[id(d)]++
	}
	var out []RowDiff
	for _, d := range later {
		if k := id(d); seen[k] > 0 {
			seen[k]--
			out = append(out, d)
		}
	}
	return out
}

// schema loads the table's schema in every region and checks they agree.
func (c *comparer) schema(ctx context.Context, name string) (*schema, error) {
	var ref *schema
	for i, conn := range c.conns {
		s, err := loadSchema(ctx, conn, name)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", c.names[i], err)
		}
		if ref == nil {
			ref = s
			continue
		}
		if !slices.Equal(s.cols, ref.cols) || !slices.Equal(s.pk, ref.pk) {
			return nil, fmt.Errorf("columns differ: %s has (%s) key (%s), %s has (%s) key (%s): bring the schemas in line first",
				c.names[0], quoteAll(ref.cols), quoteAll(ref.pkCols()), c.names[i], quoteAll(s.cols), quoteAll(s.pkCols()))
		}
	}
	if c.cfg.Scope != nil {
		ref.scope = c.cfg.Scope(name, slices.Clone(ref.cols))
	}
	return ref, nil
}

// boundary is the reference's upper key of the chunk after lo, or nil
// when the rest of the table fits in one chunk. A table without a primary
// key is one chunk.
func (c *comparer) boundary(ctx context.Context, s *schema, lo []any) ([]any, error) {
	if s.rowKey {
		return nil, nil
	}
	q, args := boundarySQL(s, lo, c.cfg.ChunkSize)
	vals := make([]any, len(s.pk))
	ptrs := make([]any, len(s.pk))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := c.conns[0].QueryRowContext(ctx, q, args...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("region %s: chunk bound: %w", c.names[0], err)
	}
	return vals, nil
}

// sums checksums one chunk in every region at once.
func (c *comparer) sums(ctx context.Context, s *schema, ch chunk) ([]sum, error) {
	q, args := checksumSQL(s, ch)
	out := make([]sum, len(c.conns))
	err := c.each(func(i int) error {
		var a, b any // BIGINT UNSIGNED: compared as text
		if err := c.conns[i].QueryRowContext(ctx, q, args...).Scan(&out[i].rows, &a, &b); err != nil {
			return fmt.Errorf("region %s: checksum: %w", c.names[i], err)
		}
		out[i].h1, out[i].h2 = str(a), str(b)
		return nil
	})
	return out, err
}

// drill reads one chunk's rows in every region and diffs them.
func (c *comparer) drill(ctx context.Context, s *schema, ch chunk) ([]RowDiff, error) {
	q, args := rowsSQL(s, ch, c.cfg.MaxChunkRows+1)
	rows := make([][]row, len(c.conns))
	err := c.each(func(i int) error {
		rs, err := readRows(ctx, c.conns[i], q, args, len(s.cols))
		if err != nil {
			return fmt.Errorf("region %s: read chunk rows: %w", c.names[i], err)
		}
		if len(rs) > c.cfg.MaxChunkRows {
			return fmt.Errorf("region %s holds more than %d rows in one differing chunk: raise the max chunk rows, or repair in steps", c.names[i], c.cfg.MaxChunkRows)
		}
		rows[i] = rs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return diffChunk(s, c.names, rows), nil
}

// readRows runs q and returns its rows as text.
func readRows(ctx context.Context, q querier, query string, args []any, ncols int) ([]row, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []row
	vals := make([]any, ncols)
	ptrs := make([]any, ncols)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(row, ncols)
		for i, v := range vals {
			r[i] = text(v)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// each runs fn for every region at once and returns the first error.
func (c *comparer) each(fn func(i int) error) error {
	errs := make([]error, len(c.conns))
	var wg sync.WaitGroup
	for i := range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func allSame(sums []sum) bool {
	for _, s := range sums[1:] {
		if s != sums[0] {
			return false
		}
	}
	return true
}
