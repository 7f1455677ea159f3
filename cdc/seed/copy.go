package seed

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
)

// Config configures a Copier.
type Config struct {
	// Donor is the region copied from, DonorDB its MySQL and Flavor its
	// ("mariadb"; see Open).
	Donor   string
	DonorDB *sql.DB
	Flavor  string
	// Target is the region copied into and TargetDB its MySQL. The copy
	// is written with sql_log_bin=0: the target's capture never publishes
	// it.
	Target   string
	TargetDB *sql.DB
	// Tables are the tables to copy, as "db.table".
	Tables []string
	// Batch is the most rows one INSERT carries; MaxBatchBytes bounds its
	// values' size.
	Batch         int
	MaxBatchBytes int
	// Throttle, if set, is called before every batch and may wait (for the
	// target's lag or the donor's load); an error ends the copy.
	Throttle func(ctx context.Context) error
	// Progress, if set, is called after every batch and at each table's end.
	Progress func(Progress)
	// Logger; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the batch sizes set.
func DefaultConfig() Config {
	return Config{Flavor: "mariadb", Batch: 500, MaxBatchBytes: 1 << 20}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Donor == "" || c.Target == "" {
		add("seed: the donor and the target regions are required")
	}
	if c.Donor != "" && c.Donor == c.Target {
		add("seed: the donor and the target are both %q: name two regions", c.Donor)
	}
	if c.DonorDB == nil || c.TargetDB == nil {
		add("seed: the donor's and the target's MySQL are required")
	}
	if len(c.Tables) == 0 {
		add("seed: no table to copy")
	}
	for _, t := range c.Tables {
		if _, _, err := splitName(t); err != nil {
			add("%w", err)
		}
	}
	if c.Batch < 1 || c.MaxBatchBytes < 1 {
		add("seed: Batch and MaxBatchBytes must be positive (e.g. 500 rows and 1 MiB)")
	}
	return errors.Join(errs...)
}

func splitName(t string) (string, string, error) {
	db, tbl, ok := strings.Cut(t, ".")
	switch {
	case !ok || db == "" || tbl == "" || strings.Contains(tbl, "."):
		return "", "", fmt.Errorf("seed: table %q is not DB.TABLE", t)
	case db == binlog.MetaSchema:
		return "", "", fmt.Errorf("seed: table %q is the platform's own; only replicated tables are copied", t)
	}
	return db, tbl, nil
}

// Progress reports one table's copy.
type Progress struct {
	Table string
	// Copied rows so far; Estimate is the donor's estimate of the table's
	// rows (information_schema, may be off either way).
	Copied, Estimate int64
	// Done is set at the table's end; Earlier when the table's copy was
	// found done by an earlier run and kept.
	Done, Earlier bool
	Elapsed       time.Duration
}

// TableResult is one table's copy.
type TableResult struct {
	Table     string        `json:"table"`
	Rows      int64         `json:"rows"`
	Earlier   bool          `json:"copied_earlier,omitempty"`
	Positions Positions     `json:"positions"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// Copier copies tables from the donor into the target.
type Copier struct {
	cfg Config
	log *slog.Logger
}

// New validates cfg and returns a Copier.
func New(cfg Config) (*Copier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Copier{cfg: cfg, log: log}, nil
}

// Run copies every table not already recorded done in the target (from
// the same donor), each in a snapshot of its own, and returns what it
// copied and kept. It can be run again after any interruption.
func (c *Copier) Run(ctx context.Context) ([]TableResult, error) {
	conn, err := c.cfg.TargetDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("seed: connect to target %s: %w", c.cfg.Target, err)
	}
	err = execAll(ctx, conn, "SET SESSION sql_log_bin = 0", "CREATE DATABASE IF NOT EXISTS "+binlog.MetaSchema, Schema)
	discard(conn)
	if err != nil {
		return nil, fmt.Errorf("seed: target %s: create %s: %w", c.cfg.Target, Table, err)
	}
	recs, err := Records(ctx, c.cfg.TargetDB)
	if err != nil {
		return nil, err
	}
	done := map[string]Record{}
	for _, r := range recs {
		if r.State == StateDone && r.Positions.Donor == c.cfg.Donor {
			done[r.Name()] = r
		}
	}
	var out []TableResult
	for _, t := range c.cfg.Tables {
		if r, ok := done[t]; ok {
			c.progress(Progress{Table: t, Copied: r.Copied, Estimate: r.Copied, Done: true, Earlier: true})
			out = append(out, TableResult{Table: t, Rows: r.Copied, Earlier: true, Positions: r.Positions})
			continue
		}
		res, err := c.table(ctx, t)
		if err != nil {
			return out, fmt.Errorf("seed: copy %s from %s to %s: %w", t, c.cfg.Donor, c.cfg.Target, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (c *Copier) progress(p Progress) {
	if c.cfg.Progress != nil {
		c.cfg.Progress(p)
	}
}

// table copies one table in a snapshot of its own.
func (c *Copier) table(ctx context.Context, name string) (TableResult, error) {
	start := time.Now()
	db, tbl, _ := splitName(name)
	snap, err := Open(ctx, c.cfg.DonorDB, c.cfg.Donor, c.cfg.Flavor)
	if err != nil {
		return TableResult{}, err
	}
	defer snap.Close()
	def, err := readTable(ctx, snap.conn, db, tbl)
	if err != nil {
		return TableResult{}, err
	}
	tconn, err := c.cfg.TargetDB.Conn(ctx)
	if err != nil {
		return TableResult{}, fmt.Errorf("connect to target: %w", err)
	}
	defer discard(tconn)
	// The copy is not the target's own change (sql_log_bin=0), and rows
	// are inserted as the donor holds them: referenced rows may come
	// later, unique values are unique already (as mariadb-dump loads
	// them), an AUTO_INCREMENT 0 stays 0, TIMESTAMPs are read and written
	// in UTC.
	if err := execAll(ctx, tconn,
		"SET SESSION sql_log_bin = 0",
		"SET SESSION foreign_key_checks = 0",
		"SET SESSION unique_checks = 0",
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
		"CREATE DATABASE IF NOT EXISTS "+quoteName(db),
		"DROP TABLE IF EXISTS "+quoteName(db)+"."+quoteName(tbl),
		"USE "+quoteName(db),
		def.create,
	); err != nil {
		return TableResult{}, fmt.Errorf("target %s: create the table: %w", c.cfg.Target, err)
	}
	pos, err := json.Marshal(snap.Positions)
	if err != nil {
		return TableResult{}, err
	}
	if _, err := tconn.ExecContext(ctx, `REPLACE INTO `+Table+` (db, tbl, donor, positions, state, copied, started_at, done_at)
		VALUES (?, ?, ?, ?, ?, 0, UTC_TIMESTAMP(6), NULL)`, db, tbl, c.cfg.Donor, string(pos), StateCopying); err != nil {
		return TableResult{}, fmt.Errorf("target %s: record the copy: %w", c.cfg.Target, err)
	}
	if _, err := snap.conn.ExecContext(ctx, "SET SESSION time_zone = '+00:00'"); err != nil {
		return TableResult{}, err
	}
	n, err := c.rows(ctx, snap.conn, tconn, name, def, start)
	if err != nil {
		return TableResult{}, err
	}
	if err := copyMeta(ctx, snap.conn, tconn, db, tbl); err != nil {
		return TableResult{}, err
	}
	// After the rows, so that the copy fires none of them.
	if err := copyTriggers(ctx, snap.conn, tconn, db, tbl); err != nil {
		return TableResult{}, err
	}
	if _, err := tconn.ExecContext(ctx, `UPDATE `+Table+` SET state = ?, copied = ?, done_at = UTC_TIMESTAMP(6) WHERE db = ? AND tbl = ?`,
		StateDone, n, db, tbl); err != nil {
		return TableResult{}, fmt.Errorf("target %s: record the copy done: %w", c.cfg.Target, err)
	}
	el := time.Since(start)
	c.progress(Progress{Table: name, Copied: n, Estimate: max(def.estimate, n), Done: true, Elapsed: el})
	c.log.Info("table copied", "table", name, "rows", n, "donor", c.cfg.Donor, "target", c.cfg.Target, "gtid", snap.Positions.GTID, "elapsed", el)
	return TableResult{Table: name, Rows: n, Positions: snap.Positions, Elapsed: el}, nil
}

// rows streams the table from the snapshot into the target in batches:
// one goroutine reads the donor's rows into batches while this one
// inserts the previous batch (as a dump piped into a load overlaps them).
func (c *Copier) rows(ctx context.Context, src, dst *sql.Conn, name string, def tableDef, start time.Time) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *batch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- c.read(ctx, src, def, batches)
	}()
	var n int64
	var err error
	for b := range batches {
		if err != nil {
			continue // drain: the reader stops at ctx's end
		}
		if c.cfg.Throttle != nil {
			err = c.cfg.Throttle(ctx)
		}
		if err == nil {
			if err = insert(ctx, dst, def, b); err != nil {
				err = fmt.Errorf("target %s: insert rows: %w", c.cfg.Target, err)
			}
		}
		if err != nil {
			cancel()
			continue
		}
		n += int64(b.rows)
		c.progress(Progress{Table: name, Copied: n, Estimate: max(def.estimate, n), Elapsed: time.Since(start)})
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	return n, err
}

// read sends the table's rows from the snapshot in batches, until they
// end or ctx does.
func (c *Copier) read(ctx context.Context, src *sql.Conn, def tableDef, out chan<- *batch) error {
	rows, err := src.QueryContext(ctx, "SELECT "+quoteList(def.cols)+" FROM "+quoteName(def.db)+"."+quoteName(def.tbl))
	if err != nil {
		return fmt.Errorf("read the donor's rows: %w", err)
	}
	defer rows.Close()
	bt := newBatcher(def, c.cfg.Batch, c.cfg.MaxBatchBytes)
	send := func(b *batch) error {
		if b == nil {
			return nil
		}
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	vals := make([]any, len(def.cols))
	ptrs := make([]any, len(def.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read the donor's rows: %w", err)
		}
		if err := send(bt.add(vals)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the donor's rows: %w", err)
	}
	return send(bt.rest())
}

// metaTables hold per-key state that decides later conflicts; a copied
// key's rows come along so that the target decides as the donor would.
var metaTables = []string{binlog.MetaSchema + ".tombstones", binlog.MetaSchema + ".claims", binlog.MetaSchema + ".origins"}

func copyMeta(ctx context.Context, src, dst *sql.Conn, db, tbl string) error {
	for _, mt := range metaTables {
		_, err := dst.ExecContext(ctx, "DELETE FROM "+mt+" WHERE db = ? AND tbl = ?", db, tbl)
		if missingTable(err) {
			// A region whose regiond never ran (region add) has none yet;
			// a donor without one has nothing to copy.
			if err = createLike(ctx, src, dst, mt); missingTable(err) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("clear %s of the table: %w", mt, err)
		}
		rows, err := src.QueryContext(ctx, "SELECT * FROM "+mt+" WHERE db = ? AND tbl = ?", db, tbl)
		if missingTable(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the donor's %s: %w", mt, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		var batch [][]any
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				rows.Close()
				return fmt.Errorf("read the donor's %s: %w", mt, err)
			}
			batch = append(batch, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the donor's %s: %w", mt, err)
		}
		q := "REPLACE INTO " + mt + " (" + quoteList(cols) + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		for _, v := range batch {
			if _, err := dst.ExecContext(ctx, q, v...); err != nil {
				return fmt.Errorf("write %s: %w", mt, err)
			}
		}
	}
	return nil
}

// createLike creates the platform's table mt (schema.table, both parts
// plain names) in dst as src has it.
func createLike(ctx context.Context, src, dst *sql.Conn, mt string) error {
	schema, tbl, _ := strings.Cut(mt, ".")
	var name, create string
	if err := src.QueryRowContext(ctx, "SHOW CREATE TABLE "+mt).Scan(&name, &create); err != nil {
		return fmt.Errorf("read the donor's definition of %s: %w", mt, err)
	}
	head := "CREATE TABLE " + quoteName(tbl)
	if !strings.HasPrefix(create, head) {
		return fmt.Errorf("the donor's definition of %s does not start with %q", mt, head)
	}
	_, err := dst.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quoteName(schema)+"."+quoteName(tbl)+strings.TrimPrefix(create, head))
	return err
}

// copyTriggers creates the donor's triggers of a table in the target, each
// under the sql_mode it was created with (SHOW CREATE TABLE has none).
func copyTriggers(ctx context.Context, src, dst *sql.Conn, db, tbl string) error {
	names, err := triggerNames(ctx, src, db, tbl)
	if err != nil {
		return fmt.Errorf("read the donor's triggers: %w", err)
	}
	for _, n := range names {
		var name, mode, stmt string
		var rest [4]sql.RawBytes // character sets, collation, created
		r, err := src.QueryContext(ctx, "SHOW CREATE TRIGGER "+quoteName(db)+"."+quoteName(n))
		if err != nil {
			return fmt.Errorf("read the donor's trigger %s: %w", n, err)
		}
		cols, _ := r.Columns()
		if !r.Next() {
			r.Close()
			return fmt.Errorf("the donor's trigger %s is gone", n)
		}
		dest := []any{&name, &mode, &stmt}
		for i := 3; i < len(cols) && i-3 < len(rest); i++ {
			dest = append(dest, &rest[i-3])
		}
		err = r.Scan(dest...)
		r.Close()
		if err != nil {
			return fmt.Errorf("read the donor's trigger %s: %w", n, err)
		}
		if _, err := dst.ExecContext(ctx, "SET SESSION sql_mode = ?", mode); err != nil {
			return err
		}
		if _, err := dst.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create trigger %s in the target: %w", n, err)
		}
	}
	return nil
}

// triggerNames lists a table's triggers in the order they fire.
func triggerNames(ctx context.Context, conn *sql.Conn, db, tbl string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY ACTION_ORDER`, db, tbl)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func execAll(ctx context.Context, conn *sql.Conn, qs ...string) error {
	for _, q := range qs {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.80s: %w", q, err)
		}
	}
	return nil
}

// discard closes a connection whose session settings were changed
// (sql_log_bin, time_zone, ...) instead of returning it to the pool,
// where another user would inherit them.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
