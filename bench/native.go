package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/lab"
)

// native is MariaDB's own replication: a primary and a replica, both
// standalone servers configured like the lab's.
type native struct {
	primary, replica *lab.MariaDB
	// rdb is a control connection to the replica.
	rdb *sql.DB
}

// startNative starts a primary and a replica in dir and replicates with
// GTIDs; threads > 0 turns on optimistic parallel replication with that
// many worker threads.
func startNative(ctx context.Context, dir string, threads int) (_ *native, err error) {
	n := &native{}
	defer func() {
		if err != nil {
			n.stop(context.WithoutCancel(ctx))
		}
	}()
	// Start both at once: most of the time is mariadb-install-db.
	errs := make(chan error, 2)
	for _, s := range []struct {
		dst  **lab.MariaDB
		name string
		id   int
	}{{&n.primary, "primary", 1}, {&n.replica, "replica", 2}} {
		go func() {
			m, err := lab.StartMariaDB(ctx, filepath.Join(dir, s.name), s.id)
			*s.dst = m
			errs <- err
		}()
	}
	err = errors.Join(<-errs, <-errs)
	if err != nil {
		return nil, err
	}
	if n.rdb, err = openDB(n.replica.Port, 2); err != nil {
		return nil, err
	}
	stmts := []string{fmt.Sprintf("SET GLOBAL slave_parallel_threads = %d", threads)}
	if threads > 0 {
		stmts = append(stmts, "SET GLOBAL slave_parallel_mode = 'optimistic'")
	}
	stmts = append(stmts,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_USE_GTID=slave_pos", n.primary.Port),
		"START SLAVE")
	for _, s := range stmts {
		if _, err := n.rdb.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("replica in %s: %s: %w", n.replica.Dir, s, err)
		}
	}
	return n, nil
}

func (n *native) stop(ctx context.Context) error {
	if n.rdb != nil {
		n.rdb.Close()
	}
	var errs []error
	for _, m := range []*lab.MariaDB{n.replica, n.primary} {
		if m != nil {
			errs = append(errs, m.Stop(ctx))
		}
	}
	return errors.Join(errs...)
}

func (n *native) ports() (int, int) { return n.primary.Port, n.replica.Port }

// pause stops the replica's SQL threads; its IO thread keeps receiving
// the primary's binlog into the relay log.
func (n *native) pause(ctx context.Context) error {
	_, err := n.rdb.ExecContext(ctx, "STOP SLAVE SQL_THREAD")
	return err
}

func (n *native) resume(ctx context.Context) error {
	_, err := n.rdb.ExecContext(ctx, "START SLAVE SQL_THREAD")
	return err
}

func (n *native) target() string { return "mysql-replica" }

func (n *native) procs() map[string]int {
	return map[string]int{"mysql-primary": n.primary.Proc.Pid, "mysql-replica": n.replica.Proc.Pid}
}

func (n *native) slavePos(ctx context.Context) (string, error) {
	var pos string
	if err := n.rdb.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&pos); err != nil {
		return "", fmt.Errorf("replica gtid_slave_pos: %w", err)
	}
	return pos, nil
}

// sample counts applied transactions by the replica's GTID sequence
// number in the primary's domain (1): the primary writes nothing else.
func (n *native) sample(ctx context.Context) (sample, error) {
	pos, err := n.slavePos(ctx)
	if err != nil {
		return sample{}, err
	}
	set, err := mysql.ParseMariadbGTIDSet(pos)
	if err != nil {
		return sample{}, fmt.Errorf("replica position %q: %w", pos, err)
	}
	var applied uint64
	if g := set.(*mysql.MariadbGTIDSet).Sets[1]; g != nil {
		applied = g.SequenceNumber
	}
	return sample{applied: applied}, nil
}

// caughtUp waits with MariaDB's MASTER_GTID_WAIT on the replica: 0 once
// its SQL threads have applied pos, -1 after wait.
func (n *native) caughtUp(ctx context.Context, pos string, wait time.Duration) (bool, error) {
	var got int
	if err := n.rdb.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, wait.Seconds()).Scan(&got); err != nil {
		return false, fmt.Errorf("replica: wait for %s: %w", pos, err)
	}
	return got == 0, nil
}

// slaveStatus returns SHOW SLAVE STATUS as column -> value.
func (n *native) slaveStatus(ctx context.Context) (map[string]string, error) {
	rows, err := n.rdb.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, errors.New("replica has no replication configured")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, c := range cols {
		out[c] = vals[i].String
	}
	return out, rows.Err()
}

func (n *native) health(ctx context.Context) error {
	s, err := n.slaveStatus(ctx)
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	if s["Slave_SQL_Running"] == "No" || (s["Slave_IO_Running"] == "No" && s["Last_IO_Errno"] != "0") {
		return fmt.Errorf("replica stopped: IO %s %s; SQL %s %s (see %s)", s["Slave_IO_Running"], s["Last_IO_Error"],
			s["Slave_SQL_Running"], s["Last_SQL_Error"], filepath.Join(n.replica.Dir, "error.log"))
	}
	return nil
}

func (n *native) describe(ctx context.Context) string {
	s, err := n.slaveStatus(ctx)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, k := range []string{"Slave_IO_Running", "Slave_SQL_Running", "Gtid_IO_Pos", "Seconds_Behind_Master", "Last_Error"} {
		fmt.Fprintf(&b, "%s=%s ", k, s[k])
	}
	return strings.TrimSpace(b.String())
}
