package apply

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/lab"
)

// BenchmarkTargetStatements measures what a folded run's statements cost
// the target MariaDB, as plain statements with their values inlined (the
// applier's driver interpolates) and prepared (prepared.go): each
// iteration is one target transaction that probes and upserts rows keys
// of a sysbench-like table (a secondary index, 180 bytes of CHAR) and
// commits. server-us/key is mariadbd's CPU (user and system, from
// /proc) per key; compare the two modes of one run, not runs:
//
//	go test -run '^$' -bench TargetStatements -benchtime 3000x ./cdc/apply
func BenchmarkTargetStatements(b *testing.B) {
	ctx := context.Background()
	srv, err := lab.StartMariaDB(ctx, b.TempDir(), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop(context.Background()) })
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "tcp", fmt.Sprintf("127.0.0.1:%d", srv.Port)
	c.ParseTime, c.InterpolateParams = true, true
	conn, err := mysql.NewConnector(c)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	const n = 20000
	tb := &event.Table{Schema: "bench", Name: "s", Cols: []string{"id", "k", "c", "pad"}, PK: []int{0}}
	rnd := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		s := make([]byte, n)
		for i := range s {
			s[i] = byte('a' + rnd.IntN(26))
		}
		return string(s)
	}
	image := func(id int64) []event.Value {
		return []event.Value{{V: id}, {V: int64(rnd.IntN(n))}, {V: text(119)}, {V: text(59)}}
	}
	for _, q := range []string{"CREATE DATABASE bench", "CREATE TABLE bench.s (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY (k))"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	rows := make([][]event.Value, n)
	for i := range rows {
		rows[i] = image(int64(i))
	}
	for i := 0; i < n; i += maxBatchRows {
		s := dialect{}.upsert(tb, rows[i:min(i+maxBatchRows, n)])
		if _, err := db.ExecContext(ctx, s.query, s.args...); err != nil {
			b.Fatal(err)
		}
	}
	var pidFile string
	if err := db.QueryRowContext(ctx, "SELECT @@pid_file").Scan(&pidFile); err != nil {
		b.Fatal(err)
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		b.Fatal(err)
	}
	cpu := func() time.Duration {
		st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		f := strings.Fields(string(st)[strings.LastIndexByte(string(st), ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime, stime: fields 14 and 15
		s, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ
	}
	sts := newStatements(db, nil)
	defer sts.close()
	for _, keys := range []int{2, maxPreparedRows} {
		for _, mode := range []string{"text", "prepared"} {
			b.Run(fmt.Sprintf("keys=%d/%s", keys, mode), func(b *testing.B) {
				use := sts
				if mode == "text" {
					use = nil
				}
				start := cpu()
				for b.Loop() {
					ps := make([]*probe, keys)
					imgs := make([][]event.Value, keys)
					for i, id := range rnd.Perm(n)[:keys] {
						imgs[i] = image(int64(id))
						ps[i] = &probe{tb: tb, op: event.Update, before: rows[id], after: imgs[i]}
						rows[id] = imgs[i]
					}
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					st, err := readStates(ctx, tx, use, ps)
					if err != nil {
						b.Fatal(err)
					}
					for i, s := range st {
						if conflicted(ps[i].op, s.exists, s.sameBefore, s.sameAfter) {
							b.Fatalf("key %v: conflict", ps[i].key()[0].V)
						}
					}
					s := dialect{}.upsert(tb, imgs)
					if _, err := use.exec(ctx, tx, s.query, s.args); err != nil {
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N*keys), "server-us/key")
			})
		}
	}
}
