package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/regionplatform/region/cdc/binlog"
)

// ErrNoMariaDB means the MariaDB server programs are not installed.
var ErrNoMariaDB = errors.New("mariadbd not found: install MariaDB with `make deps` (apt-get install -y mariadb-server mariadb-client)")

// findProgram looks a program up in PATH and in the sbin folders Debian
// puts servers in (they are not in every user's PATH).
func findProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/libexec"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// mariaDB are the programs a MariaDB server needs.
type mariaDB struct{ server, installDB string }

func findMariaDB(dir string) (mariaDB, error) {
	find := findProgram
	if dir != "" {
		find = func(name string) (string, error) {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		}
	}
	s, err := find("mariadbd")
	if err != nil {
		return mariaDB{}, ErrNoMariaDB
	}
	i, err := find("mariadb-install-db")
	if err != nil {
		return mariaDB{}, ErrNoMariaDB
	}
	return mariaDB{server: s, installDB: i}, nil
}

// mysqlServer describes one region's MariaDB server in the lab.
type mysqlServer struct {
	dir     string // data folder
	port    int
	id      int // server-id and gtid-domain-id (region index + 1)
	regions int // auto_increment_increment
	// region: a lab region's server. It starts read-only (regiond lifts
	// it once the controller confirms the region takes writes: a region
	// failed over stays so across restarts) and has the application's
	// account (AppUser), which read_only stops.
	region bool
}

func (m mysqlServer) dataDir() string { return filepath.Join(m.dir, "data") }

func (m mysqlServer) tmpDir() string { return filepath.Join(m.dir, "tmp") }

// install creates the data folder the first time; a later start reuses
// it. It installs into a temporary folder and renames it, so an
// interrupted install never leaves a half-made data folder behind.
func (m mysqlServer) install(ctx context.Context, bin mariaDB) error {
	if _, err := os.Stat(filepath.Join(m.dataDir(), "mysql")); err == nil {
		return nil
	}
	tmp := m.dataDir() + ".installing"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	args := []string{"--no-defaults", "--datadir=" + tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	// Each server gets its own tmpdir: a starting mariadbd removes every
	// #sql* file in its tmpdir, which would break a neighbour's install.
	if err := os.MkdirAll(m.tmpDir(), 0o700); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin.installDB, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+m.tmpDir())
	out, err := cmd.CombinedOutput()
	logPath := filepath.Join(m.dir, "install.log")
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return fmt.Errorf("mariadb-install-db in %s: %w (output in %s):\n%s", tmp, err, logPath, headLines(string(out), 12))
	}
	if err := os.RemoveAll(m.dataDir()); err != nil {
		return err
	}
	return os.Rename(tmp, m.dataDir())
}

// args is the mariadbd command line: row-based binlog with full images and
// GTIDs, a domain per region, and interleaved auto-increment values so two
// regions never hand out the same id.
func (m mysqlServer) args(bin mariaDB) []string {
	d := m.dataDir()
	args := []string{bin.server, "--no-defaults",
		"--datadir=" + d,
		"--port=" + strconv.Itoa(m.port),
		"--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(m.dir, "sock"),
		"--pid-file=" + filepath.Join(m.dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(m.dir, "error.log"),
		"--tmpdir=" + m.tmpDir(),
		"--skip-name-resolve",
		"--server-id=" + strconv.Itoa(m.id),
		"--gtid-domain-id=" + strconv.Itoa(m.id),
		"--log-bin=" + filepath.Join(d, "binlog"),
		"--binlog-format=ROW",
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--log-slave-updates=ON",
		"--auto-increment-increment=" + strconv.Itoa(m.regions),
		"--auto-increment-offset=" + strconv.Itoa(m.id),
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
		"--innodb-buffer-pool-size=128M",
		"--max-connections=400",
		"--max-allowed-packet=64M",
	}
	if m.region {
		args = append(args, "--read-only=ON")
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	return args
}

// launch installs the data folder if needed and starts mariadbd, without
// waiting for it to answer (see ready). Its log is MariaDB's error.log.
func (m mysqlServer) launch(ctx context.Context, bin mariaDB, stdoutLog string) (Proc, error) {
	if err := m.install(ctx, bin); err != nil {
		return Proc{}, err
	}
	p, err := startProc(m.args(bin), nil, stdoutLog)
	if err != nil {
		return Proc{}, err
	}
	p.Log = filepath.Join(m.dir, "error.log") // mariadbd logs there, not to stderr
	return p, nil
}

// ready waits until the server started as p answers queries.
func (m mysqlServer) ready(ctx context.Context, what string, p Proc) error {
	return waitReady(ctx, what, p, func(ctx context.Context) error { return mysqlReady(ctx, m.port) })
}

// appAccount gives a region's server the application's account (AppUser),
// outside the binlog: every region's server makes its own.
func (m mysqlServer) appAccount(ctx context.Context, what string) error {
	db, err := OpenMySQL(m.port, "")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION sql_log_bin = 0",
		"CREATE USER IF NOT EXISTS '" + AppUser + "'@'127.0.0.1'",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES ON *.* TO '" + AppUser + "'@'127.0.0.1'",
		// Where the app's guard stamps its transactions (regiond's applier
		// makes it too, later).
		"CREATE DATABASE IF NOT EXISTS " + binlog.MetaSchema, binlog.StampSchema} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: the application's account: %s: %w", what, q, err)
		}
	}
	return nil
}

// AppUser is the lab application's MariaDB account: rows only (no
// READ_ONLY ADMIN, no SUPER), so a region's read_only stops it as it
// stops a real application, while regiond (root) still applies
// replication.
const AppUser = "app"

// MySQLDSN is the lab's DSN for a MariaDB on port (root, no password, loopback).
func MySQLDSN(port int) string { return fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port) }

// OpenMySQL opens the lab's MariaDB on port as root.
func OpenMySQL(port int, db string) (*sql.DB, error) { return openMySQLAs("root", port, db) }

// OpenAppMySQL opens a lab region's MariaDB on port as the application
// (AppUser): what read_only stops.
func OpenAppMySQL(port int, db string) (*sql.DB, error) { return openMySQLAs(AppUser, port, db) }

func openMySQLAs(user string, port int, db string) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName = user, "tcp", fmt.Sprintf("127.0.0.1:%d", port), db
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 3*time.Second, 30*time.Second, 30*time.Second
	c.ParseTime = true
	c.MultiStatements = true
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

func mysqlReady(ctx context.Context, port int) error {
	db, err := OpenMySQL(port, "")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
