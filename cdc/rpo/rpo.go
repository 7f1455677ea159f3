// Package rpo says exactly what a forced failover lost: which transactions
// the failed region committed (its own replicated writes, not the echoes
// of what its appliers applied) that the surviving region never applied.
//
// It reads the failed region's binlog from the link's watermark (every
// transaction up to it is applied in the survivor) to the server's end,
// and decides each replicated transaction with the survivor's
// per-partition positions:
//
//	st, _ := regiond.FetchStatus(ctx, nil, survivorURL, token)
//	link := st.Links[i] // the link from the failed region
//	res, err := rpo.Compute(ctx, rpo.Config{Source: src, Partitions: 8, Link: link})
//	switch {
//	case errors.Is(err, rpo.ErrUnreachable): // RPO pending: retry later
//	case errors.Is(err, rpo.ErrNotExact):    // the binlog is gone
//	}
//	fmt.Println(res.LostCount, res.LostGTIDs)
package rpo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/cdc/seed"
)

// DefaultMaxListed is how many lost transactions Result.Lost lists by
// default; all of them are counted.
const DefaultMaxListed = 1000

// ErrUnreachable means the failed region's MySQL could not be reached or
// stopped answering: the RPO is pending, compute it again later.
var ErrUnreachable = errors.New("the failed region's MySQL is unreachable: the RPO is pending, compute it again when the server answers")

// ErrNotExact means the failed region's binlog no longer holds every
// transaction after the watermark (purged), so which ones were lost can
// no longer be said exactly.
var ErrNotExact = errors.New("the RPO cannot be computed exactly any more")

// Config says where to read the failed region's binlog and what the
// survivor applied of it.
type Config struct {
	// Source reads the failed region's MySQL as its capture does (same
	// Flavor, Filter and Buckets: they decide what is replicated and each
	// transaction's key), with a ServerID no server or reader uses.
	Source binlog.Config
	// Partitions is the number of partitions of the failed region's topic.
	Partitions int32
	// Link is the survivor's status of the link from the failed region:
	// its AppliedGTID (the watermark, where reading starts) and every
	// partition's Pos.
	Link apply.LinkStatus
	// MaxListed caps Result.Lost; 0 means DefaultMaxListed.
	MaxListed int
	// DialTimeout bounds connecting to the failed region's MySQL; 0 means
	// 5 seconds.
	DialTimeout time.Duration
	// Since is when the survivor's link state was taken (the forced
	// failover): a rebuild that continued the failed region's binlog after
	// it means the region's data was lost in between (Result.Uncounted).
	// Zero: only a continuation past the watermark says so.
	Since time.Time
}

// Validate checks the fields Compute needs.
func (c *Config) Validate() error {
	if c.Source.Flavor != mysql.MariaDBFlavor && c.Source.Flavor != mysql.MySQLFlavor {
		return fmt.Errorf("rpo: Source.Flavor %q: use mariadb or mysql", c.Source.Flavor)
	}
	if c.Source.Filter == nil || c.Source.Buckets <= 0 || c.Source.ServerID == 0 {
		return errors.New("rpo: Source.Filter, Source.Buckets and Source.ServerID are required: configure them as capture's reader")
	}
	if c.Partitions <= 0 {
		return errors.New("rpo: Partitions is required: the partition count of the failed region's topic")
	}
	if c.MaxListed < 0 {
		return errors.New("rpo: MaxListed must not be negative")
	}
	return nil
}

// Result is what the survivor lacks of the failed region's writes.
type Result struct {
	// LastAppliedGTID is the failed region's GTID set up to which every
	// replicated transaction is applied in the survivor: the watermark,
	// advanced over the applied transactions after it up to the first
	// lost one.
	LastAppliedGTID string `json:"last_applied_gtid"`
	// LostGTIDs are the lost transactions as a GTID set: for MySQL a GTID
	// set, for MariaDB ranges "domain-server-first-last" of consecutive
	// sequence numbers (or "domain-server-seq"), comma separated. Empty
	// when nothing is lost.
	LostGTIDs string `json:"lost_gtids"`
	// LostCount counts every lost transaction; Lost lists the first
	// MaxListed, in commit order.
	LostCount int64     `json:"lost_count"`
	Lost      []LostTxn `json:"lost"`
	// ReadUpTo is the failed region's binlog end, read when Compute
	// started: everything up to it was decided.
	ReadUpTo string `json:"read_up_to"`
	// Uncounted, when set, says what could not be counted: the region's
	// data was lost and rebuilt, so what it committed after its capture's
	// last published position is gone and not in LostCount.
	Uncounted string `json:"uncounted,omitempty"`
}

// Listed reports whether r lists every lost transaction with every row
// it wrote (Lost is not cut at MaxListed, no Keys at MaxKeys): then the
// rows the lost transactions wrote are known exactly.
func (r Result) Listed() bool {
	if int64(len(r.Lost)) < r.LostCount {
		return false
	}
	for _, t := range r.Lost {
		if t.KeysCut {
			return false
		}
	}
	return true
}

// LostTxn is one transaction the survivor never applied.
type LostTxn struct {
	GTID string `json:"gtid"`
	// Time is the commit time in the failed region (seconds).
	Time time.Time `json:"time"`
	// Partition is the partition it was keyed to, -1 for a schema change.
	Partition int32 `json:"partition"`
	// Tables are the tables it wrote ("db.table"); Rows its row changes.
	Tables []string `json:"tables,omitempty"`
	Rows   int      `json:"rows"`
	// DDL is the statement of a schema change.
	DDL string `json:"ddl,omitempty"`
	// Changes name the first MaxChanges row changes, e.g. "insert
	// lending.ledger_entries id=77": the rows that diverge.
	Changes []string `json:"changes,omitempty"`
	// Keys are the rows it wrote, up to MaxKeys (KeysCut says more were
	// left out): what a reconciliation compares.
	Keys    []RowKey `json:"keys,omitempty"`
	KeysCut bool     `json:"keys_cut,omitempty"`
}

// RowKey is one row a transaction wrote: its table and its primary key's
// columns and values as text (every column of a table without one).
type RowKey struct {
	Table string   `json:"table"`
	Cols  []string `json:"cols"`
	Vals  []string `json:"vals"`
}

// MaxChanges caps LostTxn.Changes; MaxKeys caps LostTxn.Keys.
const (
	MaxChanges = 20
	MaxKeys    = 1000
)

// Compute reads the failed region's binlog from cfg.Link's watermark to
// the server's end (read at the start) and returns the replicated
// transactions the survivor never applied. It fails with ErrUnreachable
// when the server cannot be reached and ErrNotExact when its binlog after
// the watermark was purged.
func Compute(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.MaxListed == 0 {
		cfg.MaxListed = DefaultMaxListed
	}
	flavor := cfg.Source.Flavor
	v, err := newView(flavor, cfg.Link, cfg.Partitions)
	if err != nil {
		return Result{}, err
	}
	end, continued, continuedAt, err := sourceState(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	endSet, err := mysql.ParseGTIDSet(flavor, end)
	if err != nil {
		return Result{}, fmt.Errorf("rpo: the source's binlog position %q: %w", end, err)
	}
	if !endSet.Contain(v.watermark) {
		return Result{}, fmt.Errorf("rpo: %w: the source's binlog ends at %q, before what the survivor applied (%q): the region's data was lost or restored from an older backup, and what it committed and never published cannot be read. Rebuild it (regionctl region rebuild): the RPO is then completed from there", ErrNotExact, end, cfg.Link.AppliedGTID)
	}
	res := Result{LastAppliedGTID: cfg.Link.AppliedGTID, ReadUpTo: end}
	from := cfg.Link.AppliedGTID
	if continued != "" {
		cs, err := mysql.ParseGTIDSet(flavor, continued)
		if err != nil {
			return Result{}, fmt.Errorf("rpo: the rebuild's continued binlog position %q: %w", continued, err)
		}
		if !v.watermark.Contain(cs) || (!cfg.Since.IsZero() && continuedAt.After(cfg.Since)) {
			// The region's data was lost and rebuilt (after the survivor's
			// state was taken, or its binlog now starts past it), its
			// binlog continued from what its capture had published:
			// everything published reached the survivor (a forced failover
			// applies all of its Kafka log), what was committed after it
			// and never published is gone with the data. What the region
			// committed since the rebuild is read as ever.
			res.Uncounted = fmt.Sprintf("the region's data was lost and rebuilt: what it committed after its capture had published %s was lost with its data and cannot be counted", continued)
			res.LastAppliedGTID, from = continued, continued
		}
	}
	if v.watermark.Contain(endSet) {
		return res, nil // the survivor applied everything
	}
	lost := newGTIDList(flavor)
	err = read(ctx, cfg, from, endSet, func(it binlog.Item) error {
		if it.Txn == nil { // echo or not replicated: nothing to lose
			if res.LostCount == 0 {
				res.LastAppliedGTID = it.Pos
			}
			return nil
		}
		part, ok, err := v.applied(it.Txn)
		if err != nil || ok {
			if ok && res.LostCount == 0 {
				res.LastAppliedGTID = it.Pos
			}
			return err
		}
		res.LostCount++
		if err := lost.add(it.Txn.GTID); err != nil {
			return err
		}
		if len(res.Lost) < cfg.MaxListed {
			res.Lost = append(res.Lost, lostTxn(it, part))
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	res.LostGTIDs = lost.String()
	return res, nil
}

func lostTxn(it binlog.Item, part int32) LostTxn {
	t := it.Txn
	l := LostTxn{GTID: t.GTID, Time: it.Time, Partition: part, Rows: len(t.Rows)}
	if t.DDL != nil {
		l.DDL = t.DDL.Statement
	}
	seen := map[int]bool{}
	for _, r := range t.Rows {
		tb := t.Tables[r.T]
		if !seen[r.T] {
			seen[r.T] = true
			l.Tables = append(l.Tables, tb.Schema+"."+tb.Name)
		}
		if len(l.Keys) >= MaxKeys {
			l.KeysCut = true
			continue
		}
		k := rowKey(tb, r.After)
		if r.Op == event.Delete {
			k = rowKey(tb, r.Before)
		}
		if len(l.Changes) < MaxChanges {
			l.Changes = append(l.Changes, change(r.Op, k))
		}
		l.Keys = append(l.Keys, k)
		if r.Op == event.Update {
			// An update that moved the key wrote two rows.
			if before := rowKey(tb, r.Before); !slices.Equal(before.Vals, k.Vals) {
				l.Keys = append(l.Keys, before)
			}
		}
	}
	return l
}

// rowKey is the row of table tb that image img is: its primary key's
// columns and values (every column of a table without one).
func rowKey(tb event.Table, img []event.Value) RowKey {
	cols := tb.PK
	if len(cols) == 0 {
		for i := range tb.Cols {
			cols = append(cols, i)
		}
	}
	k := RowKey{Table: tb.Schema + "." + tb.Name}
	for _, i := range cols {
		if i < len(img) && i < len(tb.Cols) {
			k.Cols = append(k.Cols, tb.Cols[i])
			k.Vals = append(k.Vals, img[i].Text())
		}
	}
	return k
}

// change names a row change by its table and key, e.g. "insert
// lending.ledger_entries id=77".
func change(op event.Op, k RowKey) string {
	key := make([]string, len(k.Cols))
	for i := range k.Cols {
		key[i] = k.Cols[i] + "=" + k.Vals[i]
	}
	name := map[event.Op]string{event.Insert: "insert", event.Update: "update", event.Delete: "delete"}[op]
	return fmt.Sprintf("%s %s %s", name, k.Table, strings.Join(key, ","))
}

// read streams the source's binlog from GTID set from and calls decide
// with every transaction until one's position includes end.
func read(ctx context.Context, cfg Config, from string, end mysql.GTIDSet, decide func(binlog.Item) error) error {
	r, err := binlog.NewReader(cfg.Source)
	if err != nil {
		return fmt.Errorf("rpo: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan binlog.Item, 64)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, from, items) }()
	stop := func(err error) error {
		cancel()
		<-done
		return err
	}
	for {
		select {
		case it := <-items:
			if err := decide(it); err != nil {
				return stop(err)
			}
			pos, err := mysql.ParseGTIDSet(cfg.Source.Flavor, it.Pos)
			if err != nil {
				return stop(fmt.Errorf("rpo: binlog position %q: %w", it.Pos, err))
			}
			if pos.Contain(end) {
				return stop(nil)
			}
		case err := <-done:
			switch {
			case errors.Is(err, binlog.ErrPosition):
				return fmt.Errorf("rpo: %w: the source's binlog after the watermark %q is purged, so some transactions after it cannot be read (%v); compare the two regions' tables to find what differs", ErrNotExact, from, err)
			case err != nil:
				// Unreachable if the server no longer answers a query;
				// otherwise the binlog itself is the problem.
				if _, perr := binlogEnd(ctx, cfg); perr != nil {
					return fmt.Errorf("rpo: %w: reading the binlog: %v", ErrUnreachable, err)
				}
				return fmt.Errorf("rpo: reading the source's binlog from %q: %w", from, err)
			case ctx.Err() != nil:
				return fmt.Errorf("rpo: stopped before the binlog end %s: %w", end, ctx.Err())
			default:
				return fmt.Errorf("rpo: the binlog reader stopped before the binlog end %s", end)
			}
		case <-ctx.Done():
			return stop(fmt.Errorf("rpo: stopped before the binlog end %s: %w", end, ctx.Err()))
		}
	}
}

// binlogEnd reads the source's current binlog end: @@gtid_binlog_pos on
// MariaDB, @@gtid_executed on MySQL.
func binlogEnd(ctx context.Context, cfg Config) (string, error) {
	end, _, _, err := sourceState(ctx, cfg)
	return end, err
}

// sourceState reads the source's binlog end, and where a rebuild last
// continued its binlog from ("" if none did: seed.ContinuedFrom).
func sourceState(ctx context.Context, cfg Config) (end, continued string, continuedAt time.Time, err error) {
	timeout := cfg.DialTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	dc := driver.NewConfig()
	dc.User, dc.Passwd, dc.Net = cfg.Source.User, cfg.Source.Password, "tcp"
	dc.Addr = net.JoinHostPort(cfg.Source.Host, strconv.Itoa(int(cfg.Source.Port)))
	dc.TLS, dc.Timeout, dc.ReadTimeout = cfg.Source.TLS, timeout, timeout
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("rpo: source connection settings: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	end, err = binlog.End(ctx, db, cfg.Source.Flavor)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("rpo: %w: %s: %v", ErrUnreachable, dc.Addr, err)
	}
	if continued, continuedAt, err = seed.ContinuedFrom(ctx, db); err != nil {
		return "", "", time.Time{}, fmt.Errorf("rpo: %w: %s: %v", ErrUnreachable, dc.Addr, err)
	}
	return end, continued, continuedAt, nil
}
