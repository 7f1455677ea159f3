package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Flavors, as regions[].mysql.flavor names them.
const (
	MariaDB = "mariadb"
	MySQL   = "mysql"
)

// sourceVars are the server variables the source checks read.
var sourceVars = []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "log_bin_compress",
	"binlog_transaction_compression", "binlog_row_value_options", "gtid_mode", "enforce_gtid_consistency",
	"server_id", "gtid_domain_id", "log_slave_updates", "log_replica_updates", "version"}

// Vars reads the server variables the checks need (lower-case names; a
// variable the server does not have is absent).
func Vars(ctx context.Context, db *sql.DB) (map[string]string, error) {
	q := "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + strings.Join(sourceVars, "', '") + "')"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read server variables: %w", err)
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read server variables: %w", err)
		}
		vars[strings.ToLower(k)] = v
	}
	return vars, rows.Err()
}

// Source reads a region's server variables and checks them (CheckSource).
func Source(ctx context.Context, db *sql.DB, region, flavor string) ([]Finding, error) {
	vars, err := Vars(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", region, err)
	}
	return CheckSource(region, flavor, vars), nil
}

// CheckSource checks a source server's variables (as Vars reads them)
// for what capture needs: a row-based binlog with full images and column
// names, GTIDs, and nothing capture cannot decode; what it decodes but has
// not met from a real server (MySQL 8's compressed transactions and
// partial JSON updates) is a warning. Each finding names the variable,
// what it is, what it must be, and the statement or my.cnf line that
// fixes it.
func CheckSource(region, flavor string, vars map[string]string) []Finding {
	var out []Finding
	is := func(name, want string, sev Severity, why string) {
		got, ok := vars[name]
		f := Finding{Region: region, Check: name, Got: got, Want: want, OK: ok && strings.EqualFold(got, want)}
		if !ok {
			f.Got = "not set (the server does not have it)"
		}
		if !f.OK {
			f.Severity = sev
			f.Fix = fmt.Sprintf("%s: SET GLOBAL %s = %s, and %s = %s in my.cnf's [mysqld] so that it survives a restart", why, name, want, name, want)
		}
		out = append(out, f)
	}
	on := func(v string) bool { return strings.EqualFold(v, "ON") || v == "1" }

	if got := vars["log_bin"]; !on(got) {
		out = append(out, Finding{Region: region, Check: "log_bin", Got: orUnset(got), Want: "ON", Severity: Fatal,
			Fix: "capture reads the binlog, and there is none: add log_bin (and a log_basename) to my.cnf's [mysqld] and restart the server"})
	} else {
		out = append(out, Finding{Region: region, Check: "log_bin", Got: got, Want: "ON", OK: true})
	}
	is("binlog_format", "ROW", Fatal, "a statement-based or mixed binlog does not hold the rows a statement changed, so capture would publish nothing of them")
	is("binlog_row_image", "FULL", Fatal, "a minimal or noblob image leaves out columns, which capture would publish as missing and appliers would write as NULL")
	is("binlog_row_metadata", "FULL", Fatal, "without column names in the binlog, capture cannot tell which column a value belongs to once a table's schema changed")

	switch flavor {
	case MySQL:
		is("gtid_mode", "ON", Fatal, "capture and the appliers track positions by GTID")
		is("enforce_gtid_consistency", "ON", Error, "gtid_mode=ON needs it")
		if got, ok := vars["binlog_transaction_compression"]; ok && on(got) {
			// Capture assembles a Transaction_payload's events
			// (TestCompressedTransaction), but no real MySQL 8 has fed it.
			out = append(out, Finding{Region: region, Check: "binlog_transaction_compression", Got: got, Want: "OFF", Severity: Warning,
				Fix: "capture decodes compressed transactions (Transaction_payload events, zstd), tested with payloads built to MySQL's format but not yet against a real MySQL 8 server: prefer OFF (SET GLOBAL binlog_transaction_compression = OFF, and in my.cnf) until you have run a drill with it on"})
		} else if ok {
			out = append(out, Finding{Region: region, Check: "binlog_transaction_compression", Got: got, Want: "OFF", OK: true})
		}
		if got, ok := vars["binlog_row_value_options"]; ok && strings.Contains(strings.ToUpper(got), "PARTIAL_JSON") {
			// Capture applies the logged diffs to the before image
			// (TestPartialJSONUpdate), but no real MySQL 8 has fed it.
			out = append(out, Finding{Region: region, Check: "binlog_row_value_options", Got: got, Want: "'' (empty)", Severity: Warning,
				Fix: "capture rebuilds each partially updated JSON document from the before image and the logged diffs, tested with events built to MySQL's format but not yet against a real MySQL 8 server; the saving is binlog size only: prefer '' (SET GLOBAL binlog_row_value_options = '', and in my.cnf) until you have run a drill with it"})
		} else if ok {
			out = append(out, Finding{Region: region, Check: "binlog_row_value_options", Got: orEmpty(got), Want: "'' (empty)", OK: true})
		}
	default:
		if got, ok := vars["log_bin_compress"]; ok && on(got) {
			// Capture decodes MariaDB's compressed query and row events
			// (TestPreflightOnTheLab replicates some): nothing is lost.
			out = append(out, Finding{Region: region, Check: "log_bin_compress", Got: got, Want: "OFF", Severity: Warning,
				Fix: "capture decodes compressed binlog events, but every event then costs the server CPU to compress and capture CPU to decompress: keep it only if binlog disk or network is the limit (SET GLOBAL log_bin_compress = OFF, and in my.cnf)"})
		} else if ok {
			out = append(out, Finding{Region: region, Check: "log_bin_compress", Got: got, Want: "OFF", OK: true})
		}
	}
	return out
}

func orUnset(v string) string {
	if v == "" {
		return "not set"
	}
	return v
}

func orEmpty(v string) string {
	if v == "" {
		return "'' (empty)"
	}
	return v
}

// CheckDistinct checks that every region's server has its own server_id
// and, on MariaDB, its own gtid_domain_id (vars by region, as Vars reads
// them): two regions with one GTID domain would count each other's
// transactions as their own.
func CheckDistinct(flavor string, vars map[string]map[string]string, regions []string) []Finding {
	var out []Finding
	for _, name := range []string{"server_id", "gtid_domain_id"} {
		if name == "gtid_domain_id" && flavor == MySQL {
			continue
		}
		seen := map[string]string{}
		for _, r := range regions {
			v, ok := vars[r][name]
			if !ok {
				continue
			}
			f := Finding{Region: r, Check: name, Got: v, OK: true}
			if other, dup := seen[v]; dup {
				f.OK, f.Severity, f.Want = false, Fatal, "a value no other region uses"
				f.Fix = fmt.Sprintf("region %s has %s %s too: %s; give each region its own (SET GLOBAL %s = N, and in my.cnf)", other, name, v, distinctWhy(name), name)
			} else {
				seen[v] = r
			}
			out = append(out, f)
		}
	}
	return out
}

func distinctWhy(name string) string {
	if name == "server_id" {
		return "a server ignores binlog events carrying its own server_id, and the GTIDs of two regions would collide"
	}
	return "GTIDs of two regions in one domain collide, so positions and the RPO would be wrong"
}
