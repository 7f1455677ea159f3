package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/regionplatform/region/dial"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/guard"
	"github.com/regionplatform/region/topo"
)

// notesInterval is how often the notes job writes a user's note, and
// notesCache how old its unguarded half's routing table may get.
const (
	notesInterval = 100 * time.Millisecond
	notesCache    = 5 * time.Second
)

// Note is one note the notes job committed.
type Note struct {
	ID      string    `json:"id"`
	User    int64     `json:"user"`
	Region  string    `json:"region"`
	Guarded bool      `json:"guarded"`
	GTID    string    `json:"gtid"`
	At      time.Time `json:"at"`
}

// notesJob is a back-office job writing user rows straight into MySQL
// (lending.user_notes), with the application's account, beside the
// gateway's load: every notesInterval a note on a random user of the
// scenario, or one time in three a transaction with notes on two users
// (owned by the same region or not) and the global promo rate. Half of its writes go through a
// data-access guard of each region (router/guard: the guard refuses a
// user its region does not own, or a fenced one, at commit); the other
// half go to the region a routing table read up to notesCache ago names,
// without any check, as a job with a cached view would: after a switch
// or failover it writes the old owner for a while. It returns the
// notes that committed; a refused or failed write is not one.
func (e *Env) notesJob(ctx context.Context, seed uint64) []Note {
	etcd, err := dial.Etcd(ctx, e.Cfg)
	if err != nil {
		e.Log.Warn("chaos: the notes job did not start", "err", err)
		return nil
	}
	defer etcd.Close()
	store := router.NewStore(etcd, e.Cfg.Etcd.Prefix)
	dbs := map[string]*sql.DB{}
	guards := map[string]*guard.Guard{}
	var wg sync.WaitGroup
	gctx, stop := context.WithCancel(ctx)
	defer wg.Wait()
	defer stop()
	for _, r := range e.St.Regions {
		db, err := lab.OpenAppMySQL(r.MySQLPort, lab.SampleDatabase)
		if err != nil {
			e.Log.Warn("chaos: the notes job did not start", "err", err)
			return nil
		}
		defer db.Close()
		dbs[r.Name] = db
		gc := guard.DefaultConfig()
		gc.Store, gc.ID, gc.Region, gc.Logger = store, "chaos-notes-"+r.Name, r.Name, e.Log
		gc.Partitions = int(e.St.PartitionCount())
		g, err := guard.New(gc)
		if err != nil {
			e.Log.Warn("chaos: the notes job did not start", "err", err)
			return nil
		}
		guards[r.Name] = g
		wg.Go(func() { _ = g.Run(gctx) })
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	var cached *router.Table
	var read time.Time
	tick := time.NewTicker(notesInterval)
	defer tick.Stop()
	var notes []Note
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return notes
		case <-tick.C:
		}
		users := e.checked()
		if len(users) == 0 {
			continue
		}
		// One note, or (one time in three) a transaction a referral job
		// would write: notes on two users, whoever owns them, and the
		// global promo rate, together.
		guarded := rng.IntN(2) == 0
		size := 1
		if rng.IntN(3) == 0 {
			size = 2
		}
		var batch []Note
		for i := range size {
			u := users[rng.IntN(len(users))]
			if i == 0 || u != batch[0].User {
				batch = append(batch, Note{ID: fmt.Sprintf("note-%d-%d-%d-%d", seed%100000, u, n, i), User: u, Guarded: guarded})
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var region, gtid string
		var err error
		if guarded {
			region, gtid, err = writeGuarded(wctx, guards, dbs, batch, rng, e.appsStopped)
		} else {
			if time.Since(read) > notesCache {
				if t, _, lerr := store.Load(wctx); lerr == nil {
					cached, read = t, time.Now()
				}
			}
			if cached != nil {
				region = cached.Owner(topo.BucketOfString(strconv.FormatInt(batch[0].User, 10), cached.Buckets)).Region
				if !e.appsStopped(region) {
					gtid, err = writeNotes(wctx, dbs[region], region, batch, nil)
				}
			}
		}
		cancel()
		if err == nil && gtid != "" {
			for _, note := range batch {
				note.Region, note.GTID, note.At = region, gtid, time.Now()
				notes = append(notes, note)
			}
		}
	}
}

// writeGuarded writes batch through the guard of the region that owns
// its users (trying the regions in a random order: the others refuse
// with guard.ErrNotOwner; none whose applications are stopped) and
// returns the region and the commit's GTID.
func writeGuarded(ctx context.Context, guards map[string]*guard.Guard, dbs map[string]*sql.DB, batch []Note, rng *rand.Rand, stopped func(string) bool) (string, string, error) {
	names := make([]string, 0, len(guards))
	for name := range guards {
		names = append(names, name)
	}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names {
		if stopped(name) {
			continue
		}
		gtid, err := writeNotes(ctx, dbs[name], name, batch, guards[name])
		if errors.Is(err, guard.ErrNotOwner) {
			continue
		}
		return name, gtid, err
	}
	return "", "", errors.New("no region owns every user of the batch")
}

// writeNotes inserts batch's notes as written in region in one
// transaction of db, through g if set (declaring every user), with the
// global promo rate's version raised when the batch has several users,
// and returns the commit's GTID.
func writeNotes(ctx context.Context, db *sql.DB, region string, batch []Note, g *guard.Guard) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var tx *sql.Tx
	var commit func() error
	if g != nil {
		keys := make([]string, len(batch))
		for i, n := range batch {
			keys[i] = strconv.FormatInt(n.User, 10)
		}
		gtx, err := g.Begin(ctx, conn, nil, keys...)
		if err != nil {
			return "", err
		}
		tx, commit = gtx.Tx, gtx.Commit
	} else {
		if tx, err = conn.BeginTx(ctx, nil); err != nil {
			return "", err
		}
		commit = tx.Commit
	}
	if err := insertNotes(ctx, tx, region, batch); err != nil {
		_ = tx.Rollback()
		return "", err
	}
	if err := commit(); err != nil {
		return "", err
	}
	var gtid string
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		return "", err
	}
	return gtid, nil
}

// insertNotes writes batch in tx.
func insertNotes(ctx context.Context, tx *sql.Tx, region string, batch []Note) error {
	for _, n := range batch {
		if _, err := tx.ExecContext(ctx, "INSERT INTO user_notes (id, user_id, region, guarded) VALUES (?, ?, ?, ?)", n.ID, n.User, region, n.Guarded); err != nil {
			return err
		}
	}
	if len(batch) > 1 {
		if _, err := tx.ExecContext(ctx, "UPDATE rates SET version = version + 1, region = ? WHERE name = 'promo'", region); err != nil {
			return err
		}
	}
	return nil
}
