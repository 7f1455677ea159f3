package rpo_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/topo"
)

func TestMain(m *testing.M) { labtest.Main(m) }

func openDB(t *testing.T, st *lab.State, region string) *sql.DB {
	t.Helper()
	r, _ := st.Region(region)
	d, err := lab.OpenMySQL(r.MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// source is how capture reads region's binlog, with a reader id of its own.
func source(t *testing.T, st *lab.State, region string) (binlog.Config, *config.Config) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(st.Dir, lab.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := st.Region(region)
	return binlog.Config{Flavor: "mariadb", Host: "127.0.0.1", Port: uint16(r.MySQLPort), User: "root",
		ServerID: 4242, Filter: binlog.NewFilter(cfg.Replication), Buckets: cfg.Buckets}, cfg
}

// link polls the target's status for its link from src until it shows
// every partition and ok accepts it.
func link(t *testing.T, st *lab.State, target, src string, timeout time.Duration, ok func(apply.LinkStatus) bool) apply.LinkStatus {
	t.Helper()
	r, _ := st.Region(target)
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		s, err := (&client.Client{BaseURL: r.APIURL(), Token: tok}).Status(context.Background())
		if err != nil {
			last = err.Error()
		} else {
			for _, l := range s.Links {
				if l.From == src && int32(len(l.Partitions)) == st.PartitionCount() && ok(l) {
					return l
				}
				if l.From == src {
					last = fmt.Sprintf("%+v", l)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %s->%s not as expected in %s: %s", src, target, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// caughtUp accepts a link whose every partition includes pos.
func caughtUp(pos string) func(apply.LinkStatus) bool {
	return func(l apply.LinkStatus) bool {
		for _, ps := range l.Partitions {
			if ok, err := binlog.Covers("mariadb", ps.Pos, pos); err != nil || !ok {
				return false
			}
		}
		return l.State == "running"
	}
}

func anyLink(apply.LinkStatus) bool { return true }

// written is one transaction the test committed in the source.
type written struct {
	user int64
	gtid string
	part int32
}

// writeUsers inserts users first..first+n-1 in region, one transaction
// each, and returns their GTIDs and partitions.
func writeUsers(t *testing.T, db *sql.DB, buckets int, partitions int32, first int64, n int) []written {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []written
	for u := first; u < first+int64(n); u++ {
		ctx := context.Background()
		if _, err := conn.ExecContext(ctx, "INSERT INTO lending.users (id, name, home_cell) VALUES (?, ?, 'a1')", u, fmt.Sprintf("user-%d", u)); err != nil {
			t.Fatal(err)
		}
		var g string
		if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&g); err != nil {
			t.Fatal(err)
		}
		key := strconv.Itoa(int(topo.BucketOfString(strconv.FormatInt(u, 10), buckets)))
		out = append(out, written{u, g, capture.Partition(key, partitions)})
	}
	return out
}

func binlogPos(t *testing.T, db *sql.DB) string {
	t.Helper()
	var pos string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

// expand lists the GTIDs of a MariaDB LostGTIDs value
// ("d-s-first-last" ranges or "d-s-seq", comma separated).
func expand(t *testing.T, set string) []string {
	t.Helper()
	var out []string
	if set == "" {
		return nil
	}
	for _, r := range strings.Split(set, ",") {
		f := strings.Split(r, "-")
		if len(f) != 3 && len(f) != 4 {
			t.Fatalf("LostGTIDs %q: range %q", set, r)
		}
		lo, err1 := strconv.ParseUint(f[2], 10, 64)
		hi, err2 := lo, error(nil)
		if len(f) == 4 {
			hi, err2 = strconv.ParseUint(f[3], 10, 64)
		}
		if err1 != nil || err2 != nil || hi < lo {
			t.Fatalf("LostGTIDs %q: range %q", set, r)
		}
		for s := lo; s <= hi; s++ {
			out = append(out, fmt.Sprintf("%s-%s-%d", f[0], f[1], s))
		}
	}
	return out
}

func gtids(ws []written) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.gtid)
	}
	return out
}

func covers(t *testing.T, a, b string) bool {
	t.Helper()
	ok, err := binlog.Covers("mariadb", a, b)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
