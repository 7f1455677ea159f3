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
// (lending.user_notes, one insert per note), with the application's
// account, beside the gateway's load: every notesInterval a note on a
// random user of the scenario. Half of its writes go through a
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
		u := users[rng.IntN(len(users))]
		note := Note{ID: fmt.Sprintf("note-%d-%d-%d", seed%100000, u, n), User: u, Guarded: rng.IntN(2) == 0}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		if note.Guarded {
			note.Region, note.GTID, err = writeGuarded(wctx, guards, dbs, note, rng, e.appsStopped)
		} else {
			if time.Since(read) > notesCache {
				if t, _, lerr := store.Load(wctx); lerr == nil {
					cached, read = t, time.Now()
				}
			}
			if cached != nil {
				note.Region = cached.Owner(topo.BucketOfString(strconv.FormatInt(u, 10), cached.Buckets)).Region
				if !e.appsStopped(note.Region) {
					note.GTID, err = writeNote(wctx, dbs[note.Region], note, nil)
				}
			}
		}
		cancel()
		if err == nil && note.GTID != "" {
			note.At = time.Now()
			notes = append(notes, note)
		}
	}
}

// writeGuarded writes note through the guard of the region that owns its
// user (trying the regions in a random order: the others refuse with
// guard.ErrNotOwner; none whose applications are stopped) and returns
// the region and the commit's GTID.
func writeGuarded(ctx context.Context, guards map[string]*guard.Guard, dbs map[string]*sql.DB, note Note, rng *rand.Rand, stopped func(string) bool) (string, string, error) {
	names := make([]string, 0, len(guards))
	for name := range guards {
		names = append(names, name)
	}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, name := range names {
		if stopped(name) {
			continue
		}
		note.Region = name
		gtid, err := writeNote(ctx, dbs[name], note, guards[name])
		if errors.Is(err, guard.ErrNotOwner) {
			continue
		}
		return name, gtid, err
	}
	return "", "", errors.New("no region owns the user")
}

// writeNote inserts note in db, through g if set, on one connection, and
// returns the commit's GTID.
func writeNote(ctx context.Context, db *sql.DB, note Note, g *guard.Guard) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const insert = "INSERT INTO user_notes (id, user_id, region, guarded) VALUES (?, ?, ?, ?)"
	args := []any{note.ID, note.User, note.Region, note.Guarded}
	if g != nil {
		tx, err := g.Begin(ctx, conn, nil, strconv.FormatInt(note.User, 10))
		if err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, insert, args...); err != nil {
			_ = tx.Rollback()
			return "", err
		}
		if err := tx.Commit(); err != nil {
			return "", err
		}
	} else if _, err := conn.ExecContext(ctx, insert, args...); err != nil {
		return "", err
	}
	var gtid string
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid); err != nil {
		return "", err
	}
	return gtid, nil
}
