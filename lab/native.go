package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// MariaDB is a standalone MariaDB server started by StartMariaDB, outside
// any lab: for baselines such as MariaDB's own replication.
type MariaDB struct {
	// Port is its TCP port on 127.0.0.1.
	Port int
	// DSN is its root DSN (see MySQLDSN).
	DSN string
	// Dir holds its data folder and error.log.
	Dir string
	// Proc is the mariadbd process.
	Proc Proc
}

// StartMariaDB installs (on first use) and starts a MariaDB server in dir
// on a free loopback port, configured like a lab region's server: row
// binlog with full images, GTIDs, log-slave-updates. id is its server-id
// and GTID domain; give every server that replicates with another its own.
// It returns when the server answers; stop it with Stop.
func StartMariaDB(ctx context.Context, dir string, id int) (*MariaDB, error) {
	if id <= 0 {
		return nil, errors.New("lab: StartMariaDB needs a server id of 1 or more")
	}
	bin, err := findMariaDB("")
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := mysqlServer{dir: dir, port: port, id: id, regions: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mariadb folder: %w", err)
	}
	p, err := m.launch(ctx, bin, filepath.Join(dir, "mariadbd.log"))
	if err != nil {
		return nil, err
	}
	srv := &MariaDB{Port: port, DSN: MySQLDSN(port), Dir: dir, Proc: p}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.ready(ctx, "mariadb in "+dir, p); err != nil {
		_ = srv.Stop(context.Background())
		return nil, err
	}
	return srv, nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 20 s) and waits
// until it is gone. Its data stays in Dir.
func (m *MariaDB) Stop(ctx context.Context) error {
	if err := m.Proc.Stop(ctx, 20*time.Second); err != nil {
		return fmt.Errorf("stop mariadb in %s: %w", m.Dir, err)
	}
	return nil
}
