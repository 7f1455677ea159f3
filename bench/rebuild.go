package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/lab"
)

// RebuildOptions configures RunRebuild.
type RebuildOptions struct {
	// Dir holds the two MariaDB servers (a temporary folder when empty).
	Dir string
	// Rows is the rows of each of the two tables copied; Runs how many
	// times each way copies them (alternating, the median is reported).
	Rows, Runs int
	// Batch is the copy's rows per INSERT (seed.Config.Batch).
	Batch    int
	Progress io.Writer
}

// Validate checks the options, naming the flags that set them.
func (o RebuildOptions) Validate() error {
	if o.Rows < 1 || o.Runs < 1 || o.Batch < 1 {
		return fmt.Errorf("--rows %d, --runs %d, --batch %d: each must be 1 or more", o.Rows, o.Runs, o.Batch)
	}
	return nil
}

// RebuildReport compares region rebuild's copy (cdc/seed) with
// mariadb-dump --single-transaction piped into mariadb, copying the same
// tables between the same two servers, neither writing the target's
// binlog.
type RebuildReport struct {
	Rows  int   `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Seconds of each run, in run order.
	CopySeconds []float64 `json:"copy_seconds"`
	DumpSeconds []float64 `json:"dump_seconds"`
	// Medians, as rows a second.
	CopyRowsPerSecond float64 `json:"copy_rows_per_s"`
	DumpRowsPerSecond float64 `json:"dump_rows_per_s"`
	// CopyVsDump is CopyRowsPerSecond / DumpRowsPerSecond.
	CopyVsDump float64 `json:"copy_vs_dump"`
}

const rebuildDB = "benchcopy"

var rebuildTables = []string{
	`CREATE TABLE ` + rebuildDB + `.loans (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, principal DECIMAL(14,2) NOT NULL,
		status VARCHAR(16) NOT NULL, note VARCHAR(200) NULL, opened_at DATETIME(6) NOT NULL, KEY (user_id)) ENGINE=InnoDB`,
	`CREATE TABLE ` + rebuildDB + `.ledger (id BIGINT PRIMARY KEY, loan_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL,
		kind VARCHAR(16) NOT NULL, ref CHAR(36) NOT NULL, created_at DATETIME(6) NOT NULL, UNIQUE KEY (ref)) ENGINE=InnoDB`,
}

// RunRebuild starts two MariaDB servers, fills two tables in the first
// and copies them into the second both ways, alternating.
func RunRebuild(ctx context.Context, o RebuildOptions) (*RebuildReport, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	dumpBin, err := exec.LookPath("mariadb-dump")
	if err != nil {
		return nil, fmt.Errorf("the baseline needs mariadb-dump (apt-get install -y mariadb-client): %w", err)
	}
	clientBin, err := exec.LookPath("mariadb")
	if err != nil {
		return nil, fmt.Errorf("the baseline needs mariadb (apt-get install -y mariadb-client): %w", err)
	}
	dir, cleanup, err := workDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var srv [2]*lab.MariaDB
	var db [2]*sql.DB
	for i := range srv {
		if srv[i], err = lab.StartMariaDB(ctx, filepath.Join(dir, "ab"[i:i+1]), i+1); err != nil {
			return nil, err
		}
		defer srv[i].Stop(context.WithoutCancel(ctx))
		// As regionctl opens them (dial.MySQL): parameters interpolated.
		if db[i], err = openDB(srv[i].Port, 4); err != nil {
			return nil, err
		}
		defer db[i].Close()
	}
	fmt.Fprintf(o.Progress, "rebuild bench: filling two tables of %d rows in the donor\n", o.Rows)
	if err := fillRebuild(ctx, db[0], o.Rows); err != nil {
		return nil, err
	}
	rep := &RebuildReport{Rows: 2 * o.Rows}
	if _, err := db[0].ExecContext(ctx, "ANALYZE TABLE "+rebuildDB+".loans, "+rebuildDB+".ledger"); err != nil {
		return nil, err
	}
	if err := db[0].QueryRowContext(ctx, `SELECT COALESCE(SUM(DATA_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, rebuildDB).Scan(&rep.Bytes); err != nil {
		return nil, err
	}
	want, err := tableSums(ctx, db[0])
	if err != nil {
		return nil, err
	}
	reset := func() error {
		conn, err := db[1].Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		for _, q := range []string{"SET SESSION sql_log_bin = 0", "DROP DATABASE IF EXISTS " + rebuildDB,
			"DELETE FROM _region.seed_tables WHERE db = '" + rebuildDB + "'", "SET SESSION sql_log_bin = 1"} {
			if _, err := conn.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "1146") { // no copy recorded yet
				return err
			}
		}
		return nil
	}
	check := func(how string) error {
		got, err := tableSums(ctx, db[1])
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: the target's tables differ from the donor's (CHECKSUM TABLE %s, want %s)", how, got, want)
		}
		return nil
	}
	for run := 1; run <= o.Runs; run++ {
		if err := reset(); err != nil {
			return nil, err
		}
		t := time.Now()
		if err := dumpPipe(ctx, dumpBin, clientBin, srv[0].Port, srv[1].Port); err != nil {
			return nil, err
		}
		rep.DumpSeconds = append(rep.DumpSeconds, time.Since(t).Seconds())
		if err := check("mariadb-dump | mariadb"); err != nil {
			return nil, err
		}
		if err := reset(); err != nil {
			return nil, err
		}
		cfg := seed.DefaultConfig()
		cfg.Donor, cfg.DonorDB, cfg.Target, cfg.TargetDB, cfg.Batch = "a", db[0], "b", db[1], o.Batch
		cfg.Tables = []string{rebuildDB + ".ledger", rebuildDB + ".loans"}
		c, err := seed.New(cfg)
		if err != nil {
			return nil, err
		}
		t = time.Now()
		if _, err := c.Run(ctx); err != nil {
			return nil, err
		}
		rep.CopySeconds = append(rep.CopySeconds, time.Since(t).Seconds())
		if err := check("the rebuild's copy"); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "run %d: mariadb-dump | mariadb %.2fs, the rebuild's copy %.2fs\n", run, rep.DumpSeconds[run-1], rep.CopySeconds[run-1])
	}
	rep.CopyRowsPerSecond = float64(rep.Rows) / median(rep.CopySeconds)
	rep.DumpRowsPerSecond = float64(rep.Rows) / median(rep.DumpSeconds)
	rep.CopyVsDump = rep.CopyRowsPerSecond / rep.DumpRowsPerSecond
	return rep, nil
}

func fillRebuild(ctx context.Context, db *sql.DB, rows int) error {
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+rebuildDB); err != nil {
		return err
	}
	for _, q := range rebuildTables {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	const chunk = 1000
	for lo := 0; lo < rows; lo += chunk {
		var loans, ledger strings.Builder
		for id := lo; id < min(lo+chunk, rows); id++ {
			if id > lo {
				loans.WriteString(",")
				ledger.WriteString(",")
			}
			fmt.Fprintf(&loans, "(%d, %d, %d.%02d, '%s', %s, '2026-11-%02d 10:00:00.%06d')", id, id%5000, 1000+id%90000, id%100,
				[]string{"open", "late", "closed"}[id%3], map[bool]string{true: "NULL", false: "'Pérez loan note " + strconv.Itoa(id) + "'"}[id%7 == 0], 1+id%28, id%1000000)
			fmt.Fprintf(&ledger, "(%d, %d, %d, '%s', UUID(), '2026-11-%02d 11:00:00.%06d')", id, id/3, (id%20000)-10000,
				[]string{"repayment", "fee", "interest", "refund"}[id%4], 1+id%28, id%1000000)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+rebuildDB+".loans VALUES "+loans.String()); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+rebuildDB+".ledger VALUES "+ledger.String()); err != nil {
			return err
		}
	}
	return nil
}

// tableSums is CHECKSUM TABLE of both tables, as one string.
func tableSums(ctx context.Context, db *sql.DB) (string, error) {
	var out []string
	for _, t := range []string{"loans", "ledger"} {
		var name string
		var sum sql.NullInt64
		if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+rebuildDB+"."+t).Scan(&name, &sum); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%s=%d", t, sum.Int64))
	}
	return strings.Join(out, " "), nil
}

// dumpPipe runs mariadb-dump --single-transaction on the donor into
// mariadb on the target, with the target's binlog off as the copy has it.
func dumpPipe(ctx context.Context, dumpBin, clientBin string, from, to int) error {
	conn := func(port int) []string {
		return []string{"--protocol=tcp", "-h127.0.0.1", "-P" + strconv.Itoa(port), "-uroot"}
	}
	if out, err := exec.CommandContext(ctx, clientBin, append(conn(to), "-e", "SET SESSION sql_log_bin = 0; CREATE DATABASE "+rebuildDB)...).CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb: %v: %s", err, out)
	}
	dump := exec.CommandContext(ctx, dumpBin, append(conn(from), "--single-transaction", "--skip-lock-tables", rebuildDB, "ledger", "loans")...)
	load := exec.CommandContext(ctx, clientBin, append(conn(to), "--init-command=SET SESSION sql_log_bin = 0", rebuildDB)...)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var dumpErr, loadErr strings.Builder
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	if err := load.Start(); err != nil {
		return err
	}
	if err := dump.Run(); err != nil {
		_ = load.Wait()
		return fmt.Errorf("mariadb-dump: %v: %s", err, dumpErr.String())
	}
	if err := load.Wait(); err != nil {
		return fmt.Errorf("mariadb (loading the dump): %v: %s", err, loadErr.String())
	}
	return nil
}

// WriteText prints the report for people.
func (r *RebuildReport) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "copied %d rows (%.1f MB of data) %d times each way:\n  region rebuild's copy   %.0f rows/s (median of %v s)\n  mariadb-dump | mariadb  %.0f rows/s (median of %v s)\n  copy vs dump: %.2fx\n",
		r.Rows, float64(r.Bytes)/1e6, len(r.CopySeconds), r.CopyRowsPerSecond, rounded(r.CopySeconds), r.DumpRowsPerSecond, rounded(r.DumpSeconds), r.CopyVsDump)
	return err
}

func rounded(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(int(x*100+0.5)) / 100
	}
	return out
}
