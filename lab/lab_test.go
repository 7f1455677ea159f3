package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

func up(t *testing.T, dir string, regions ...string) (*lab.State, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	st, err := lab.Up(ctx, lab.Options{Dir: dir, Regions: regions, Bin: labtest.Bin()})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return st, time.Since(start)
}

func allUp(t *testing.T, dir string) []lab.ComponentStatus {
	t.Helper()
	cs, err := lab.Status(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.State != "up" {
			t.Errorf("%s %s is %s %s", c.Component, c.Region, c.State, c.Detail)
		}
	}
	return cs
}

// TestUpDownLeavesNothing starts a three-region lab, checks every part
// answers, stops it, and checks no process and no listening port remain.
func TestUpDownLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	st, took := up(t, dir, "a", "b", "c")
	t.Logf("lab up with 3 regions took %s", took.Round(time.Millisecond))
	// Up returns once every regiond has loaded the routing table: its
	// routes answer at once, no 503.
	tok, err := lab.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Regions {
		c := client.Client{BaseURL: r.APIURL(), Token: tok}
		a, err := c.Route(context.Background(), "1")
		if err != nil || a.Cell == "" {
			t.Errorf("region %s: GET /v1/route right after Up: %v %+v", r.Name, err, a)
		}
	}
	cs := allUp(t, dir)
	if want := 1 + 4*3 + 1; len(cs) != want {
		t.Fatalf("%d components, want %d", len(cs), want)
	}
	info, err := st.Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Regions) != 3 || info.Regions[2].Name != "c" || !strings.HasPrefix(info.Regions[0].MySQL, "root@tcp(127.0.0.1:") || len(info.Etcd) != 1 || info.Regions[0].Token == "" {
		t.Errorf("info = %+v", info)
	}
	// The servers are what they claim: MariaDB with per-region GTID domain
	// and interleaved auto-increment.
	for i, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			t.Fatal(err)
		}
		var domain, inc, off int
		var format string
		if err := db.QueryRow("SELECT @@gtid_domain_id, @@auto_increment_increment, @@auto_increment_offset, @@binlog_format").Scan(&domain, &inc, &off, &format); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if domain != i+1 || inc != lab.MaxRegions || off != i+1 || format != "ROW" {
			t.Errorf("region %s: domain=%d increment=%d offset=%d format=%s", r.Name, domain, inc, off, format)
		}
	}

	if err := lab.Down(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if err := syscall.Kill(c.Pid, 0); err == nil && processRuns(c.Pid) {
			t.Errorf("%s %s (pid %d) still runs after down", c.Component, c.Region, c.Pid)
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port)); err != nil {
			t.Errorf("%s %s port %d still taken after down: %v", c.Component, c.Region, c.Port, err)
		} else {
			l.Close()
		}
	}
	cs, err = lab.Status(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.State != "down" {
			t.Errorf("after down, %s %s is %s", c.Component, c.Region, c.State)
		}
	}
}

// processRuns is true for a live process (a zombie awaiting its reaper is not).
func processRuns(pid int) bool {
	return lab.Proc{Pid: pid}.Alive()
}

// TestTwoLabsSideBySide runs two labs in two folders at once.
func TestTwoLabsSideBySide(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	sts := make([]*lab.State, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sts[i], errs[i] = lab.Up(context.Background(), lab.Options{Dir: dirs[i], Regions: []string{"a", "b"}, Bin: labtest.Bin()})
		}()
	}
	wg.Wait()
	for i, d := range dirs {
		t.Cleanup(func() { _ = lab.Down(context.Background(), d, nil) })
		if errs[i] != nil {
			t.Fatalf("lab %d: %v", i, errs[i])
		}
	}
	ports := map[int]bool{}
	for _, st := range sts {
		for _, r := range st.Regions {
			for _, p := range []int{r.MySQLPort, r.KafkaPort, r.APIPort} {
				if ports[p] {
					t.Errorf("port %d used by both labs", p)
				}
				ports[p] = true
			}
		}
	}
	for _, d := range dirs {
		allUp(t, d)
	}
}

// TestUpTwiceAndRestart: a second up on a running lab is refused and
// starts nothing; after down, up starts it again on the same ports with
// its data.
func TestUpTwiceAndRestart(t *testing.T) {
	dir := t.TempDir()
	st, _ := up(t, dir, "a", "b")
	t.Cleanup(func() { _ = lab.Down(context.Background(), dir, nil) })
	db, err := lab.OpenMySQL(st.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE DATABASE keep; CREATE TABLE keep.t (id INT PRIMARY KEY); INSERT INTO keep.t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = lab.Up(context.Background(), lab.Options{Dir: dir, Regions: []string{"a", "b"}, Bin: labtest.Bin()})
	if !errors.Is(err, lab.ErrRunning) || !strings.Contains(err.Error(), "lab down --dir") {
		t.Fatalf("second up: want ErrRunning naming the fix, got %v", err)
	}
	after, err := lab.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Regions[0].MySQL.Pid != st.Regions[0].MySQL.Pid || !after.Regions[0].MySQL.Alive() {
		t.Errorf("second up changed the running lab: mysql pid %d -> %d", st.Regions[0].MySQL.Pid, after.Regions[0].MySQL.Pid)
	}

	if err := lab.Down(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	st2, _ := up(t, dir)
	if st2.Regions[0].MySQLPort != st.Regions[0].MySQLPort || st2.Etcd.ClientPort != st.Etcd.ClientPort {
		t.Errorf("restart changed ports")
	}
	db, err = lab.OpenMySQL(st2.Regions[0].MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("SELECT id FROM keep.t").Scan(&v); err != nil || v != 42 {
		t.Errorf("data after restart: %d, %v", v, err)
	}
}

func TestUpBadInput(t *testing.T) {
	tests := []struct {
		name string
		opts lab.Options
		want string
	}{
		{"no dir", lab.Options{Regions: []string{"a", "b"}}, "--dir"},
		{"one region", lab.Options{Dir: t.TempDir(), Regions: []string{"a"}}, "at least two regions"},
		{"bad name", lab.Options{Dir: t.TempDir(), Regions: []string{"a", "B!"}}, `region name "B!"`},
		{"twice", lab.Options{Dir: t.TempDir(), Regions: []string{"a", "a"}}, "named twice"},
		{"no mariadb", lab.Options{Dir: t.TempDir(), Regions: []string{"a", "b"}, MariaDBDir: t.TempDir()}, "make deps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Bin = labtest.Bin()
			_, err := lab.Up(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}
