package preflight

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// Grants reads the privileges of the account db is connected as.
func Grants(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("read the account's grants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("read the account's grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

var grantRE = regexp.MustCompile(`(?i)^GRANT (.+?) ON (\S+) TO `)

// global returns the privileges grants give on *.* (upper case).
func global(grants []string) map[string]bool {
	privs := map[string]bool{}
	for _, g := range grants {
		m := grantRE.FindStringSubmatch(g)
		if m == nil || strings.Trim(m[2], "`") != "*.*" {
			continue
		}
		for _, p := range strings.Split(m[1], ",") {
			privs[strings.ToUpper(strings.TrimSpace(p))] = true
		}
	}
	return privs
}

// need is a privilege regiond's account must hold on *.*: priv, or one
// of alts (older or broader names); sev if it does not; why; grant is
// what to grant.
type need struct {
	priv       string
	alts       []string
	sev        Severity
	why, grant string
}

// CheckGrants checks that regiond's MySQL account (grants as SHOW
// GRANTS lists them) can read the binlog, see the server's position, and
// write while the server is read-only (a failed-over region still
// applies replication): on MariaDB REPLICATION SLAVE, BINLOG MONITOR (or
// REPLICATION CLIENT, its old name) and READ_ONLY ADMIN (or SUPER); on
// MySQL 8 REPLICATION SLAVE, REPLICATION CLIENT and CONNECTION_ADMIN (or
// SUPER). Row privileges on the replicated databases are not checked
// here: an apply that lacks one halts naming it.
func CheckGrants(region, flavor string, grants []string) []Finding {
	privs := global(grants)
	all := privs["ALL PRIVILEGES"] || privs["ALL"]
	has := func(any ...string) bool {
		if all {
			return true
		}
		for _, p := range any {
			if privs[p] {
				return true
			}
		}
		return false
	}
	needs := []need{{"REPLICATION SLAVE", []string{"REPLICATION SLAVE", "REPLICATION REPLICA"}, Fatal, "capture reads the binlog as a replica does", "REPLICATION SLAVE"}}
	if flavor == MySQL {
		needs = append(needs,
			need{"REPLICATION CLIENT", []string{"REPLICATION CLIENT"}, Error, "regiond reads the server's GTID position (the RPO, a switch's wait)", "REPLICATION CLIENT"},
			need{"CONNECTION_ADMIN", []string{"CONNECTION_ADMIN", "SUPER"}, Error, "the appliers write while the server is read-only (a failed-over region still applies replication)", "CONNECTION_ADMIN, SYSTEM_VARIABLES_ADMIN"})
	} else {
		needs = append(needs,
			need{"BINLOG MONITOR", []string{"BINLOG MONITOR", "REPLICATION CLIENT"}, Error, "regiond reads the server's GTID position (the RPO, a switch's wait)", "BINLOG MONITOR"},
			need{"READ_ONLY ADMIN", []string{"READ_ONLY ADMIN", "SUPER"}, Error, "the appliers write while the server is read-only (a failed-over region still applies replication), and regiond sets read_only", "READ_ONLY ADMIN"})
	}
	var out []Finding
	for _, n := range needs {
		f := Finding{Region: region, Check: "privilege " + n.priv, Got: "granted", OK: has(n.alts...)}
		if !f.OK {
			f.Got, f.Want, f.Severity = "not granted on *.*", "granted on *.*", n.sev
			f.Fix = fmt.Sprintf("%s: GRANT %s ON *.* TO the regiond account (deploy/README.md lists every grant)", n.why, n.grant)
		}
		out = append(out, f)
	}
	return out
}
