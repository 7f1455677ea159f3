// Package labtest starts real labs for tests: real MariaDB, broker, etcd
// and regiond processes, stopped again when the test ends.
//
//	func TestMain(m *testing.M) { labtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		st := labtest.Up(t, "a", "b")
//		...
//	}
package labtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
)

// EnvBin names a folder holding prebuilt regiond and regionctl programs
// (make test sets it to ./bin); without it, Main builds them.
const EnvBin = "REGION_BIN"

var bin lab.Binaries

// Main builds (or finds) the programs the lab runs, runs the tests, and
// removes what it built.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir := os.Getenv(EnvBin)
	if dir == "" {
		tmp, err := os.MkdirTemp("", "region-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		if err := build(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "labtest:", err)
			return 1
		}
		dir = tmp
	}
	bin = lab.Binaries{Regiond: filepath.Join(dir, "regiond"), Regionctl: filepath.Join(dir, "regionctl")}
	for _, p := range []string{bin.Regiond, bin.Regionctl} {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(os.Stderr, "labtest: %v: run `make build`, or unset %s to build in the test\n", err, EnvBin)
			return 1
		}
	}
	return m.Run()
}

func build(dst string) error {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find module root: %w", err)
	}
	cmd := exec.Command("go", "build", "-o", dst+"/", "./cmd/regiond", "./cmd/regionctl")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as make build builds them
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// Bin returns the programs the lab runs (Main must have run).
func Bin() lab.Binaries { return bin }

// Up starts a lab with the given regions in a fresh temporary folder and
// stops it when the test ends (its logs are printed if the test failed).
func Up(t testing.TB, regions ...string) *lab.State {
	t.Helper()
	return UpWith(t, lab.Options{}, regions...)
}

// UpWith is Up with options (Dir, Regions, Bin and Progress are set here).
func UpWith(t testing.TB, opts lab.Options, regions ...string) *lab.State {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Dir, opts.Regions, opts.Bin, opts.Progress = dir, regions, bin, testWriter{t}
	if opts.VerifyEvery == 0 {
		// Continuous verification compares every table again and again;
		// a test that does not look at it spares the machine.
		opts.VerifyEvery = time.Hour
	}
	st, err := lab.Up(ctx, opts)
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		if err := lab.Down(context.Background(), dir, nil); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return st
}

func dumpLogs(t testing.TB, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		s := string(b)
		if len(s) > 3000 {
			s = "..." + s[len(s)-3000:]
		}
		t.Logf("--- %s\n%s", filepath.Base(l), s)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// MariaDB starts a MariaDB server of its own for t, configured like a lab
// region's (lab.StartMariaDB, in t.TempDir(), stopped when t ends), and
// returns it opened as root.
func MariaDB(t testing.TB) *sql.DB { t.Helper(); return MariaDBWithID(t, 1) }

// MariaDBWithID is MariaDB with server id and GTID domain id: a test with
// two servers gives them two.
func MariaDBWithID(t testing.TB, id int) *sql.DB {
	t.Helper()
	srv, err := lab.StartMariaDB(context.Background(), t.TempDir(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	db, err := lab.OpenMySQL(srv.Port, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
