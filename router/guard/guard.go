// Package guard is the data-access guard: the fence where the write
// commits, for applications that write MySQL through database/sql
// (batch jobs, second services, anything that does not come through the
// gateway).
//
// A write transaction declares every shard key (user key) it writes:
//
//	g, _ := guard.New(guard.Config{Store: store, ID: "billing-7f3", Region: "a"})
//	go g.Run(ctx)
//	tx, err := g.Begin(ctx, db, nil, "1042", "2077") // a payment between two users
//	... tx.ExecContext(...) ...
//	err = tx.Commit() // errors.Is(err, guard.ErrNotOwner) / guard.ErrFenced: retry later
//
// Commit commits only if, at the routing epoch current at commit, every
// key's bucket is owned by a cell of the guard's region and no switch or
// failover fences it, and the guard has not been cut off from etcd for
// longer than its lease (it then refuses every write: a region
// partitioned away may have been failed over meanwhile). A transaction
// that declares no key writes shared tables only: it commits while the
// region itself is not fenced. A transaction that writes global tables
// (config class global: one writer region) declares them too, and
// commits only in their home while no move fences them:
//
//	tx, err := g.BeginWrites(ctx, db, nil, guard.Writes{Users: []string{"1042"}, Tables: []string{"lending.products"}}) The table comes from the guard's own
//
// router, held from an etcd watch (no etcd round trip per transaction);
// the guard registers as a router, so a traffic switch waits for it to
// apply a fence and for every transaction it admitted under an older
// table to finish (router.Inflight), before it flips the buckets.
//
// Commit also stamps the transaction, inside it, with the epoch and the
// owning cell (one row of binlog.StampTable per connection), which
// capture carries in event.Txn.Epoch and Cell: the stamp is what the
// other regions' appliers can compare with the routing history.
package guard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/router"
)

// Config configures a Guard.
type Config struct {
	// Store is the deployment's routing table (router.NewStore).
	Store *router.Store
	// ID names the guard in the router registry, unique per process
	// (e.g. "billing-a-7f3"); switches list it among the routers they
	// wait for.
	ID string
	// Region is the region whose MySQL the application writes: a key's
	// bucket must belong to a cell of this region.
	Region string
	// TTL is the lease of the guard's registration: cut off from etcd for
	// longer, it refuses every write (default 5s).
	TTL time.Duration
	// SettleBound bounds how long a new routing table waits for the
	// transactions admitted under an older one (default
	// router.DefaultSettleBound).
	SettleBound time.Duration
	// Flavor is the region's MySQL flavor, mariadb or mysql (default
	// mariadb), and Partitions its links' partition count (config
	// replication.topic.partitions, default 8): session reads (Read)
	// compare GTIDs and need every partition's watermark.
	Flavor     string
	Partitions int
	// Staleness, if set, says how old another region's data in this
	// region may be, for bounded reads (Read): the region's regiond
	// client (client.Client) answers from its position samples. Nil:
	// Read refuses bounded reads.
	Staleness Staleness
	// Logger receives the guard's logs (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the default lease and bound.
func DefaultConfig() Config {
	return Config{TTL: router.DefaultConfig().TTL, SettleBound: router.DefaultSettleBound, Flavor: "mariadb", Partitions: 8}
}

// Validate reports the first field that makes c unusable.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("guard: Config.Store is nil: pass router.NewStore(etcdClient, prefix)")
	case c.ID == "":
		return errors.New("guard: Config.ID is empty: name this guard, unique per process")
	case c.Region == "":
		return errors.New("guard: Config.Region is empty: name the region whose MySQL the application writes")
	}
	return nil
}

// Errors Commit and Begin return (wrapped, with the bucket, cell and
// epoch): the transaction was rolled back; retry later, through the
// owner's region.
var (
	// ErrNotOwner: a key's bucket belongs to a cell of another region,
	// or a global table's home is another region.
	ErrNotOwner = errors.New("the region does not own the bucket or table")
	// ErrFenced: a switch or failover fences the bucket or the region, or
	// the guard is cut off from etcd.
	ErrFenced = errors.New("writes are fenced")
	// ErrNoTable: the guard has not loaded the routing table yet.
	ErrNoTable = errors.New("the routing table is not loaded yet")
)

// Guard admits write transactions by the routing table. Run keeps its
// table current; Begin may be called from any number of goroutines.
type Guard struct {
	cfg      Config
	router   *router.Router
	inflight *router.Inflight
}

// New checks cfg and returns a guard with no table yet; Run loads it.
func New(cfg Config) (*Guard, error) {
	def := DefaultConfig()
	if cfg.TTL == 0 {
		cfg.TTL = def.TTL
	}
	if cfg.SettleBound == 0 {
		cfg.SettleBound = def.SettleBound
	}
	if cfg.Flavor == "" {
		cfg.Flavor = def.Flavor
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = def.Partitions
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{cfg: cfg, inflight: router.NewInflight(cfg.SettleBound, cfg.Logger)}
	rc := router.DefaultConfig()
	rc.Store, rc.ID, rc.Region, rc.Kind, rc.TTL, rc.Settle, rc.Logger = cfg.Store, cfg.ID, cfg.Region, "guard", cfg.TTL, g.inflight.Settle, cfg.Logger
	r, err := router.New(rc)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	g.router = r
	return g, nil
}

// Run follows the routing table and keeps the guard registered until ctx
// ends.
func (g *Guard) Run(ctx context.Context) error { return g.router.Run(ctx) }

// Ready returns a channel closed once the first table is loaded.
func (g *Guard) Ready() <-chan struct{} { return g.router.Ready() }

// Beginner starts transactions: a *sql.DB, or a *sql.Conn when the caller
// needs the connection after the commit (e.g. to read @@last_gtid).
type Beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Tx is a guarded write transaction: a *sql.Tx whose Commit checks the
// routing table and stamps the transaction first.
type Tx struct {
	*sql.Tx
	ctx context.Context
	g   *Guard
	w   Writes
}

// Writes is what a transaction declares it writes.
type Writes struct {
	// Users are the shard keys (user keys, in their text form, e.g. the
	// decimal user id) of the rows of unit tables it writes.
	Users []string
	// Tables are the global tables ("db.table") it writes.
	Tables []string
}

// Begin starts a write transaction on db for the users whose shard keys
// (in their text form, e.g. the decimal user id) are given; none: the
// transaction writes shared tables only. It refuses at once what Commit
// would refuse now.
func (g *Guard) Begin(ctx context.Context, db Beginner, opts *sql.TxOptions, keys ...string) (*Tx, error) {
	return g.BeginWrites(ctx, db, opts, Writes{Users: keys})
}

// BeginWrites is Begin for a transaction that also writes global tables.
func (g *Guard) BeginWrites(ctx context.Context, db Beginner, opts *sql.TxOptions, w Writes) (*Tx, error) {
	if _, _, err := g.admit(w); err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, ctx: ctx, g: g, w: w}, nil
}

// Commit checks every key against the routing table current now, stamps
// the transaction with the epoch and the owning cell, and commits; a
// refused transaction is rolled back and the error wraps ErrNotOwner,
// ErrFenced or ErrNoTable. The check and the commit run inside one
// router.Inflight generation, so a switch that fences a key's bucket
// after the check waits for this commit before it flips the bucket.
func (t *Tx) Commit() error {
	gen := t.g.inflight.Enter() // before the lookup: see router.Inflight
	defer gen.Leave()
	epoch, cell, err := t.g.admit(t.w)
	if err != nil {
		_ = t.Tx.Rollback()
		return err
	}
	if _, err := t.Tx.ExecContext(t.ctx, "INSERT INTO "+binlog.MetaSchema+"."+binlog.StampTable+
		" (conn_id, cell, epoch, n, stamped_at) VALUES (CONNECTION_ID(), ?, ?, 1, UTC_TIMESTAMP(6))"+
		" ON DUPLICATE KEY UPDATE cell = ?, epoch = ?, n = n + 1, stamped_at = UTC_TIMESTAMP(6)", cell, epoch, cell, epoch); err != nil {
		_ = t.Tx.Rollback()
		return fmt.Errorf("guard: stamp the transaction (%s.%s; the application's account needs INSERT and UPDATE on it): %w", binlog.MetaSchema, binlog.StampTable, err)
	}
	return t.Tx.Commit()
}

// admit checks w against the table the guard serves now and returns
// its epoch and the cell owning the first key ("" for none).
func (g *Guard) admit(w Writes) (uint64, string, error) {
	for _, name := range w.Tables {
		gr, ok := g.router.Global(name)
		switch {
		case !ok && g.router.Table() == nil:
			return 0, "", fmt.Errorf("guard %s: %w", g.cfg.ID, ErrNoTable)
		case !ok:
			return 0, "", fmt.Errorf("guard %s: table %s is not a global table of the routing table (config replication.tables class global): declare only global tables in Writes.Tables", g.cfg.ID, name)
		case gr.Home != g.cfg.Region:
			return 0, "", fmt.Errorf("guard %s: global table %s is written in region %s, its home, not %s (epoch %d): %w", g.cfg.ID, name, gr.Home, g.cfg.Region, gr.Epoch, ErrNotOwner)
		case gr.WriteForbidden && g.router.Stale():
			return 0, "", fmt.Errorf("guard %s: cut off from etcd for longer than its lease %s: %w", g.cfg.ID, g.cfg.TTL, ErrFenced)
		case gr.WriteForbidden:
			return 0, "", fmt.Errorf("guard %s: global table %s is fenced: its home is moving, or region %s is fenced (epoch %d): %w", g.cfg.ID, name, gr.Home, gr.Epoch, ErrFenced)
		}
	}
	keys := w.Users
	if len(keys) == 0 {
		if ok, why := g.router.RegionWritable(g.cfg.Region); !ok {
			if g.router.Table() == nil {
				return 0, "", fmt.Errorf("guard %s: %w", g.cfg.ID, ErrNoTable)
			}
			return 0, "", fmt.Errorf("guard %s: a write of global tables in region %s: %s: %w", g.cfg.ID, g.cfg.Region, why, ErrFenced)
		}
		return g.router.Epoch(), "", nil
	}
	var epoch uint64
	var cell string
	for i, k := range keys {
		rt, ok := g.router.Route(k)
		switch {
		case !ok:
			return 0, "", fmt.Errorf("guard %s: %w", g.cfg.ID, ErrNoTable)
		case rt.Region != g.cfg.Region:
			return 0, "", fmt.Errorf("guard %s: user %s: bucket %d belongs to cell %s in region %s, not %s (epoch %d): %w", g.cfg.ID, k, rt.Bucket, rt.Cell, rt.Region, g.cfg.Region, rt.Epoch, ErrNotOwner)
		case rt.WriteForbidden && g.router.Stale():
			return 0, "", fmt.Errorf("guard %s: cut off from etcd for longer than its lease %s: %w", g.cfg.ID, g.cfg.TTL, ErrFenced)
		case rt.WriteForbidden:
			return 0, "", fmt.Errorf("guard %s: user %s: bucket %d of cell %s is fenced by a switch or failover (epoch %d): %w", g.cfg.ID, k, rt.Bucket, rt.Cell, rt.Epoch, ErrFenced)
		}
		if i == 0 {
			epoch, cell = rt.Epoch, rt.Cell
		}
	}
	return epoch, cell, nil
}
