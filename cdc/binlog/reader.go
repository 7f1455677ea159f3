// Package binlog is the read stage of capture: it follows a MySQL or
// MariaDB row-based binlog from a GTID set and turns it into whole
// transactions, in commit order, in the wire format of package event.
//
// The source must log full row images with full metadata
// (binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL):
// then every table map carries column names and the primary key, so the
// reader needs no schema cache and follows DDL by construction.
package binlog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/topo"
)

// Config is how to reach the source and what to read.
type Config struct {
	// Flavor is "mariadb" or "mysql".
	Flavor string
	Host   string
	Port   uint16
	User   string
	// Password is never logged.
	Password string
	TLS      *tls.Config
	// ServerID identifies the reader to the source as a replica; it must
	// differ from every server's and every other reader's id.
	ServerID uint32
	// Filter says what is replicated.
	Filter *Filter
	// Buckets is the deployment's bucket count.
	Buckets int
	// Dial, if set, connects to Host:Port (e.g. through a relay); nil
	// dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// AppliedDDL, if set, says whether the schema change that connection
	// thread ran at when was an applier's (its _region.apply_ddl row):
	// asked for a replicated schema change whose announcement the reader
	// did not see, because it started reading after it (a restart from a
	// checkpoint between the two), so that the change does not echo back.
	AppliedDDL func(ctx context.Context, thread uint32, when time.Time) (bool, error)
	Logger     *slog.Logger
}

// Item is one source transaction as the reader saw it, in commit order.
type Item struct {
	// Txn is what to publish; nil when nothing of the transaction is
	// replicated (other databases, or written by an applier).
	Txn *event.Txn
	// Pos is the source GTID set after the transaction.
	Pos string
	// Time is the commit time (seconds resolution, from the binlog).
	Time time.Time
	// Echo is true for a transaction an applier wrote (loop prevention).
	Echo bool
	// Hold: an XA transaction is prepared and not yet committed (its rows
	// are held in memory, xa.go): do not checkpoint at Pos, or a restart
	// would not read them again.
	Hold bool
}

// Reader reads one source's binlog.
type Reader struct {
	cfg Config
	log *slog.Logger
}

// NewReader checks cfg.
func NewReader(cfg Config) (*Reader, error) {
	if cfg.Flavor != mysql.MariaDBFlavor && cfg.Flavor != mysql.MySQLFlavor {
		return nil, fmt.Errorf("binlog: flavor %q: use mariadb or mysql", cfg.Flavor)
	}
	if cfg.Filter == nil || cfg.Buckets <= 0 || cfg.ServerID == 0 {
		return nil, errors.New("binlog: Filter, Buckets and ServerID are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reader{cfg: cfg, log: cfg.Logger}, nil
}

// decodeRows decodes a rows event only when capture uses its rows: in a
// target region most rows in the binlog were written by an applier and
// are dropped as echoes, so decoding them would be wasted work.
func (r *Reader) decodeRows(e *replication.RowsEvent, data []byte) error {
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	db, table := string(e.Table.Schema), string(e.Table.Table)
	if r.cfg.Filter.Table(db, table) || (db == MetaSchema && (table == "apply_ddl" || table == StampTable)) {
		if err := e.DecodeData(pos, data); err != nil {
			return err
		}
		return completePartialJSON(e, data[pos:])
	}
	return nil
}

// Flavor is the source's flavor, "mariadb" or "mysql".
func (r *Reader) Flavor() string { return r.cfg.Flavor }

// ErrPosition means the source cannot serve the binlog from the requested
// position (purged, or never written there).
var ErrPosition = errors.New("the source cannot stream from this position")

// Run streams from the GTID set from ("" = from the oldest binlog) and
// sends every transaction to out until ctx ends or reading fails.
func (r *Reader) Run(ctx context.Context, from string, out chan<- Item) error {
	gset, err := mysql.ParseGTIDSet(r.cfg.Flavor, from)
	if err != nil {
		return fmt.Errorf("binlog: start position %q: %w", from, err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                r.cfg.ServerID,
		Flavor:                  r.cfg.Flavor,
		Host:                    r.cfg.Host,
		Port:                    r.cfg.Port,
		User:                    r.cfg.User,
		Password:                r.cfg.Password,
		TLSConfig:               r.cfg.TLS,
		Dialer:                  r.cfg.Dial,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         time.Second,
		ReadTimeout:             10 * time.Second,
		MaxReconnectAttempts:    0,
		// go-mysql resumes a broken connection from the GTID set it
		// tracks itself; on MySQL that set loses a tagged GTID's tag when
		// an untagged transaction follows (v1.16, binlogsyncer.go), which
		// would skip a transaction. There the reader ends instead, and
		// capture restarts from its own checkpoint.
		DisableRetrySync: r.cfg.Flavor == "mysql",
		// MySQL's binary JSON as MySQL prints it: by default go-mysql
		// prints a DECIMAL as a string, a DATE with a time, 1.0 as 1, and
		// other opaque values as raw bytes, which would replicate as
		// different values.
		RenderJSONAsMySQLText: true,
		Logger:                slog.New(discard{}),
		RowsEventDecodeFunc:   r.decodeRows,
	})
	defer syncer.Close()
	stream, err := syncer.StartSyncGTID(gset)
	if err != nil {
		return fmt.Errorf("binlog: start at %q: %w", from, err)
	}
	a := &assembler{ctx: ctx, cfg: &r.cfg, lastPos: from}
	for {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if strings.Contains(err.Error(), "1236") {
				return fmt.Errorf("binlog: %w (%v): the binlog holding %q was purged or is not on this server; see Start position in docs/cdc.md", ErrPosition, err, from)
			}
			return fmt.Errorf("binlog: %w", err)
		}
		item, done, err := a.add(ev)
		if err != nil {
			return err
		}
		if !done {
			continue
		}
		item.Hold = len(a.prepared) > 0
		select {
		case out <- item:
		case <-ctx.Done():
			return nil
		}
	}
}

// assembler collects one transaction's events.
type assembler struct {
	// ctx is the reader's Run context (for AppliedDDL's queries).
	ctx  context.Context
	cfg  *Config
	gtid string
	in   bool
	// began: the event group is a transaction (BEGIN, or MariaDB's
	// GTID event without FL_STANDALONE), so that statements inside it
	// (savepoints) are part of it, not standalone.
	began  bool
	echo   bool
	txn    *event.Txn
	tables map[uint64]int // binlog table id -> index in txn.Tables
	// widths are, by index in txn.Tables, its BINARY columns' widths
	// (binaryWidths; nil: none).
	widths [][]int
	// announce is the table id of _region.apply_ddl in this transaction;
	// appliers maps the connection ids that announced a schema change to
	// that change (see apply's applyDDL): their next statement is theirs.
	announce uint64
	appliers map[uint32]bool
	// stamp is the table id of StampTable in this transaction (a guard's
	// stamp: noteStamp).
	stamp uint64
	// lastPos is the GTID set after the last event group that ended.
	lastPos string
	// xid is the current group's XA transaction; prepared holds the XA
	// transactions prepared and not yet committed or rolled back (xa.go).
	xid      string
	prepared map[string]prepared
}

func (a *assembler) begin(gtid string) {
	a.gtid, a.in, a.began, a.echo = gtid, true, false, false
	a.txn = &event.Txn{GTID: gtid, Bucket: -1}
	a.tables, a.widths = map[uint64]int{}, nil
	a.announce, a.stamp = 0, 0
}

// add takes one event; it returns an item when a transaction ends.
func (a *assembler) add(ev *replication.BinlogEvent) (Item, bool, error) {
	when := time.Unix(int64(ev.Header.Timestamp), 0).UTC()
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent:
		a.begin(e.GTID.String())
		// MariaDB's GTID event opens a transaction itself (no BEGIN
		// follows) unless it is standalone (a DDL).
		a.began = !e.IsStandalone()
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err != nil {
			return Item{}, false, fmt.Errorf("binlog: gtid event: %w", err)
		}
		a.begin(next.String())
	case *replication.GtidTaggedLogEvent:
		// MySQL 8.4's tagged GTID (uuid:tag:gno).
		next, err := e.GTIDNext()
		if err != nil {
			return Item{}, false, fmt.Errorf("binlog: tagged gtid event: %w", err)
		}
		a.begin(next.String())
	case *replication.TransactionPayloadEvent:
		// MySQL 8's compressed transaction (binlog_transaction_compression):
		// go-mysql has decompressed and decoded its events, which are the
		// transaction's own (its BEGIN, table maps, rows and commit) after
		// the GTID event; they assemble as if they came one by one.
		for i, inner := range e.Events {
			it, done, err := a.add(inner)
			if err != nil || (done && i == len(e.Events)-1) {
				return it, done, err
			}
			if done {
				return Item{}, false, fmt.Errorf("binlog: a compressed transaction (%s) ended at its event %d of %d", a.gtid, i+1, len(e.Events))
			}
		}
	case *replication.QueryEvent:
		q := string(e.Query)
		switch strings.ToUpper(strings.TrimSpace(q)) {
		case "BEGIN":
			a.began = a.in
			return Item{}, false, nil
		case "COMMIT": // non-transactional engines end this way
			return a.end(e.GSet, when), true, nil
		}
		if verb, xid, one := xaStatement(q); verb != "" && a.in {
			return a.xa(verb, xid, one, e.GSet, when)
		}
		if a.began && isSavepoint(q) {
			// SAVEPOINT, ROLLBACK TO and RELEASE inside a transaction: the
			// server already dropped the rows a rollback undid from the
			// binlog; the rows before and after are the transaction's.
			return Item{}, false, nil
		}
		// Any other statement is a schema change or an administrative
		// statement.
		if !a.in {
			return Item{}, false, nil
		}
		replicate, applied := a.cfg.Filter.DDL(string(e.Schema), q)
		if a.appliers[e.SlaveProxyID] {
			delete(a.appliers, e.SlaveProxyID) // one statement per announcement
			applied = true
		}
		if replicate && !applied && a.cfg.AppliedDDL != nil {
			ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
			ok, err := a.cfg.AppliedDDL(ctx, e.SlaveProxyID, when)
			cancel()
			if err != nil {
				return Item{}, false, fmt.Errorf("binlog: was schema change %q an applier's: %w", q, err)
			}
			applied = ok
		}
		a.echo = a.echo || applied
		if a.began {
			// A schema change inside a transaction's event group: CREATE
			// TABLE ... SELECT, logged as the table's definition followed
			// by the selected rows. The change goes out on its own, at the
			// position before the group (a restart reads the group again;
			// the applier skips the change it already ran), and the rows
			// stay a transaction of their own that ends with the group.
			it := Item{Time: when, Echo: a.echo, Pos: a.lastPos}
			if replicate && !applied {
				it.Txn = &event.Txn{GTID: a.gtid, Bucket: -1, DDL: &event.DDL{Schema: string(e.Schema), Statement: q}}
			}
			return it, true, nil
		}
		if replicate && !applied {
			a.txn.DDL = &event.DDL{Schema: string(e.Schema), Statement: q}
		}
		return a.end(e.GSet, when), true, nil
	case *replication.TableMapEvent:
		if !a.in {
			return Item{}, false, nil
		}
		db, table := string(e.Schema), string(e.Table)
		switch {
		case db == MetaSchema && table == StampTable:
			a.stamp = e.TableID
		case db == MetaSchema:
			a.echo = true
			if table == "apply_ddl" {
				a.announce = e.TableID
			}
		}
		if !a.cfg.Filter.Table(db, table) {
			return Item{}, false, nil
		}
		cols := e.ColumnNameString()
		if len(cols) != int(e.ColumnCount) {
			return Item{}, false, fmt.Errorf("binlog: table %s.%s has no column names in the binlog: set binlog_row_metadata=FULL on the source", db, table)
		}
		t := event.Table{Schema: db, Name: table, Cols: cols, Types: append([]byte(nil), e.ColumnType...)}
		for _, p := range e.PrimaryKey {
			t.PK = append(t.PK, int(p))
		}
		a.tables[e.TableID] = len(a.txn.Tables)
		a.txn.Tables = append(a.txn.Tables, t)
		a.widths = append(a.widths, binaryWidths(e))
	case *replication.RowsEvent:
		if !a.in {
			return Item{}, false, nil
		}
		if a.announce != 0 && e.TableID == a.announce {
			a.noteAnnouncement(e)
			return Item{}, false, nil
		}
		if a.stamp != 0 && e.TableID == a.stamp {
			a.noteStamp(e)
			return Item{}, false, nil
		}
		ti, ok := a.tables[e.TableID]
		if !ok {
			return Item{}, false, nil // filtered table (or the meta schema)
		}
		if err := a.rows(ev.Header.EventType, ti, e); err != nil {
			return Item{}, false, err
		}
	case *replication.XIDEvent:
		return a.end(e.GSet, when), true, nil
	case *replication.GenericEvent:
		if ev.Header.EventType == replication.XA_PREPARE_LOG_EVENT && a.in {
			return a.prepare(when)
		}
	}
	return Item{}, false, nil
}

// noteAnnouncement reads an applier's row in _region.apply_ddl: a
// "started" row names the connection whose next statement is applied DDL.
func (a *assembler) noteAnnouncement(e *replication.RowsEvent) {
	cols := e.Table.ColumnNameString()
	conn, state := -1, -1
	for i, c := range cols {
		switch c {
		case "conn_id":
			conn = i
		case "state":
			state = i
		}
	}
	if conn < 0 || state < 0 {
		return
	}
	for _, row := range e.Rows {
		if len(row) <= conn || len(row) <= state {
			continue
		}
		if st := event.NewValue(row[state]).Text(); st != "started" {
			continue
		}
		id, err := strconv.ParseUint(event.NewValue(row[conn]).Text(), 10, 32)
		if err != nil {
			continue
		}
		if a.appliers == nil {
			a.appliers = map[uint32]bool{}
		}
		a.appliers[uint32(id)] = true
	}
}

// noteStamp reads a guard's stamp (StampTable's row after the write)
// into the transaction's Epoch and Cell.
func (a *assembler) noteStamp(e *replication.RowsEvent) {
	cols := e.Table.ColumnNameString()
	cell, epoch := slices.Index(cols, "cell"), slices.Index(cols, "epoch")
	if cell < 0 || epoch < 0 || len(e.Rows) == 0 {
		return
	}
	row := e.Rows[len(e.Rows)-1] // an update logs before and after: the last is the after image
	if len(row) <= cell || len(row) <= epoch {
		return
	}
	n, err := strconv.ParseUint(event.NewValue(row[epoch]).Text(), 10, 64)
	if err != nil {
		return
	}
	a.txn.Epoch, a.txn.Cell = n, event.NewValue(row[cell]).Text()
}

func (a *assembler) end(gset mysql.GTIDSet, when time.Time) Item {
	it := Item{Time: when, Echo: a.echo}
	if gset != nil {
		it.Pos = gset.String()
		a.lastPos = it.Pos
	}
	if a.in && !a.echo && (len(a.txn.Rows) > 0 || a.txn.DDL != nil) {
		if a.txn.DDL != nil {
			a.txn.Tables = nil
		}
		it.Txn = a.txn
	}
	a.in, a.began, a.txn, a.tables = false, false, nil, nil
	return it
}

// isSavepoint reports whether q is SAVEPOINT, ROLLBACK TO [SAVEPOINT] or
// RELEASE SAVEPOINT.
func isSavepoint(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	switch {
	case len(f) >= 2 && f[0] == "SAVEPOINT":
		return true
	case len(f) >= 3 && f[0] == "ROLLBACK" && (f[1] == "TO" || (f[1] == "WORK" && f[2] == "TO")):
		return true
	case len(f) >= 3 && f[0] == "RELEASE" && f[1] == "SAVEPOINT":
		return true
	}
	return false
}

func (a *assembler) rows(typ replication.EventType, ti int, e *replication.RowsEvent) error {
	var op event.Op
	switch typ {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = event.Insert
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		op = event.Update
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2, replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = event.Delete
	default:
		return fmt.Errorf("binlog: unsupported rows event %s", typ)
	}
	t := &a.txn.Tables[ti]
	shard := -1
	if col := a.cfg.Filter.ShardColumn(t.Schema, t.Name); col != "" {
		for i, c := range t.Cols {
			if c == col {
				shard = i
			}
		}
	}
	widths := a.widths[ti]
	step := 1
	if op == event.Update {
		step = 2 // before and after images alternate
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		r := event.Row{T: ti, Op: op}
		switch op {
		case event.Insert:
			r.After = event.NewValues(e.Rows[i]...)
		case event.Delete:
			r.Before = event.NewValues(e.Rows[i]...)
		case event.Update:
			r.Before, r.After = event.NewValues(e.Rows[i]...), event.NewValues(e.Rows[i+1]...)
		}
		for j, n := range widths {
			if n > 0 && j < len(r.Before) {
				r.Before[j] = r.Before[j].PadRight(n)
			}
			if n > 0 && j < len(r.After) {
				r.After[j] = r.After[j].PadRight(n)
			}
		}
		if a.txn.Bucket < 0 && shard >= 0 {
			image := r.After
			if image == nil {
				image = r.Before
			}
			a.txn.Bucket = int32(topo.BucketOfString(image[shard].Text(), a.cfg.Buckets))
		}
		a.txn.Rows = append(a.txn.Rows, r)
	}
	return nil
}

// binaryWidths returns, by column, n of each BINARY(n) column of tm (0
// for the others; nil when it has none). MySQL stores such a value padded
// with zero bytes to n but writes it to the binlog without its trailing
// zero bytes: 0x00FF0000 in a BINARY(4) arrives as 0x00FF, which would
// find no row by key and equal no stored value. The width is in the
// column's metadata (as MySQL's Field_string packs it), the binary
// character set (63) in binlog_row_metadata=FULL's charsets.
func binaryWidths(tm *replication.TableMapEvent) []int {
	if tm == nil {
		return nil
	}
	var out []int
	var collations map[int]uint64
	for i, typ := range tm.ColumnType {
		if typ != mysql.MYSQL_TYPE_STRING || i >= len(tm.ColumnMeta) {
			continue
		}
		real, n := byte(tm.ColumnMeta[i]>>8), int(tm.ColumnMeta[i]&0xff)
		if real&0x30 != 0x30 { // a length over 255 keeps its high bits here
			n |= int((real&0x30)^0x30) << 4
			real |= 0x30
		}
		if real != mysql.MYSQL_TYPE_STRING { // ENUM, SET
			continue
		}
		if collations == nil {
			if collations = tm.CollationMap(); collations == nil {
				return nil
			}
		}
		if c, ok := collations[i]; !ok || c != binaryCollation {
			continue
		}
		if out == nil {
			out = make([]int, len(tm.ColumnType))
		}
		out[i] = n
	}
	return out
}

// binaryCollation is the id of the binary character set's collation.
const binaryCollation = 63

// discard silences go-mysql's own logger; errors reach Run's caller.
type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
