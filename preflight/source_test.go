package preflight

import (
	"strings"
	"testing"
)

// good returns a source's variables as capture needs them.
func good(flavor string) map[string]string {
	v := map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL", "server_id": "1"}
	if flavor == MySQL {
		v["gtid_mode"], v["enforce_gtid_consistency"], v["binlog_transaction_compression"], v["binlog_row_value_options"] = "ON", "ON", "OFF", ""
	} else {
		v["log_bin_compress"], v["gtid_domain_id"] = "OFF", "1"
	}
	return v
}

// TestCheckSource: each setting that would lose data, on MariaDB and on
// MySQL 8 (no MySQL 8 server runs here: these are its variables as
// SHOW GLOBAL VARIABLES lists them), is one fatal finding naming the
// variable, its value, the value needed and the statement that fixes
// it; a good server has none.
func TestCheckSource(t *testing.T) {
	for _, c := range []struct {
		flavor, name, value string
		check, says         string // "" check: no failure
	}{
		{MariaDB, "", "", "", ""},
		{MySQL, "", "", "", ""},
		{MariaDB, "binlog_format", "MIXED", "binlog_format", "SET GLOBAL binlog_format = ROW"},
		{MySQL, "binlog_format", "STATEMENT", "binlog_format", "SET GLOBAL binlog_format = ROW"},
		{MariaDB, "binlog_row_image", "MINIMAL", "binlog_row_image", "SET GLOBAL binlog_row_image = FULL"},
		{MySQL, "binlog_row_image", "NOBLOB", "binlog_row_image", "leaves out columns"},
		{MariaDB, "binlog_row_metadata", "MINIMAL", "binlog_row_metadata", "SET GLOBAL binlog_row_metadata = FULL"},
		{MariaDB, "binlog_row_metadata", "", "binlog_row_metadata", "column names"},
		{MariaDB, "log_bin", "OFF", "log_bin", "there is none"},
		{MySQL, "gtid_mode", "OFF_PERMISSIVE", "gtid_mode", "SET GLOBAL gtid_mode = ON"},
	} {
		vars := good(c.flavor)
		if c.name != "" {
			if c.value == "" {
				delete(vars, c.name)
			} else {
				vars[c.name] = c.value
			}
		}
		fs := CheckSource("a", c.flavor, vars)
		bad := Failed(fs, Warning)
		if c.check == "" {
			if len(bad) != 0 {
				t.Errorf("%s, good settings: %v", c.flavor, bad)
			}
			if FatalError(fs) != nil {
				t.Errorf("%s, good settings: FatalError = %v", c.flavor, FatalError(fs))
			}
			continue
		}
		if len(bad) != 1 || bad[0].Check != c.check || bad[0].Severity != Fatal || !strings.Contains(bad[0].Fix, c.says) {
			t.Errorf("%s %s=%q: %v; want one fatal %s saying %q", c.flavor, c.name, c.value, bad, c.check, c.says)
			continue
		}
		err := FatalError(fs)
		if err == nil || !strings.Contains(err.Error(), c.check) || !strings.Contains(err.Error(), "region a") {
			t.Errorf("%s %s=%q: FatalError = %v", c.flavor, c.name, c.value, err)
		}
	}
}

// TestDecodedButUntriedIsAWarning: MariaDB's compressed events, MySQL
// 8's compressed transactions and its partial JSON updates are decoded
// (TestPreflightOnTheLab, binlog's TestCompressedTransaction and
// TestPartialJSONUpdate), so each only warns.
func TestDecodedButUntriedIsAWarning(t *testing.T) {
	for _, c := range []struct{ flavor, name, value string }{
		{MariaDB, "log_bin_compress", "ON"},
		{MySQL, "binlog_transaction_compression", "ON"},
		{MySQL, "binlog_row_value_options", "PARTIAL_JSON"},
	} {
		vars := good(c.flavor)
		vars[c.name] = c.value
		fs := CheckSource("a", c.flavor, vars)
		bad := Failed(fs, Warning)
		if len(bad) != 1 || bad[0].Check != c.name || bad[0].Severity != Warning || FatalError(fs) != nil {
			t.Errorf("%s %s=%s: %v, FatalError %v; want one warning", c.flavor, c.name, c.value, bad, FatalError(fs))
		}
	}
}

// TestCheckGrants: SHOW GRANTS as MariaDB and MySQL 8 print them.
func TestCheckGrants(t *testing.T) {
	for _, c := range []struct {
		flavor  string
		grants  []string
		missing string // "" none
	}{
		{MariaDB, []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, ""},
		{MariaDB, []string{"GRANT RELOAD, BINLOG MONITOR, REPLICATION SLAVE, READ_ONLY ADMIN ON *.* TO `regiond`@`%`", "GRANT ALL PRIVILEGES ON `_region`.* TO `regiond`@`%`"}, ""},
		{MariaDB, []string{"GRANT REPLICATION CLIENT, REPLICATION SLAVE, SUPER ON *.* TO `regiond`@`%`"}, ""},
		{MariaDB, []string{"GRANT BINLOG MONITOR, READ_ONLY ADMIN ON *.* TO `regiond`@`%`", "GRANT REPLICATION SLAVE ON `lending`.* TO `regiond`@`%`"}, "privilege REPLICATION SLAVE"},
		{MariaDB, []string{"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `regiond`@`%`"}, "privilege READ_ONLY ADMIN"},
		{MariaDB, []string{"GRANT REPLICATION SLAVE, READ_ONLY ADMIN ON *.* TO `regiond`@`%`"}, "privilege BINLOG MONITOR"},
		{MySQL, []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `regiond`@`%`", "GRANT CONNECTION_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `regiond`@`%`"}, ""},
		{MySQL, []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `regiond`@`%`"}, "privilege CONNECTION_ADMIN"},
	} {
		bad := Failed(CheckGrants("a", c.flavor, c.grants), Warning)
		switch {
		case c.missing == "" && len(bad) > 0:
			t.Errorf("%s %v: %v", c.flavor, c.grants, bad)
		case c.missing != "" && (len(bad) != 1 || bad[0].Check != c.missing || !strings.Contains(bad[0].Fix, "GRANT ")):
			t.Errorf("%s %v: %v; want %s missing", c.flavor, c.grants, bad, c.missing)
		}
	}
}

// TestCheckDistinct: two regions with one server_id or one GTID domain.
func TestCheckDistinct(t *testing.T) {
	vars := map[string]map[string]string{
		"a": {"server_id": "1", "gtid_domain_id": "1"},
		"b": {"server_id": "2", "gtid_domain_id": "1"},
		"c": {"server_id": "1", "gtid_domain_id": "3"},
	}
	bad := Failed(CheckDistinct(MariaDB, vars, []string{"a", "b", "c"}), Warning)
	var got []string
	for _, f := range bad {
		got = append(got, f.Region+" "+f.Check)
		if !strings.Contains(f.Fix, "region a has") {
			t.Errorf("%s %s: fix %q does not name the other region", f.Region, f.Check, f.Fix)
		}
	}
	if strings.Join(got, ", ") != "c server_id, b gtid_domain_id" {
		t.Errorf("CheckDistinct failed %v; want c's server_id and b's gtid_domain_id", got)
	}
	if bad := Failed(CheckDistinct(MySQL, vars, []string{"a", "b"}), Warning); len(bad) != 0 {
		t.Errorf("MySQL has no gtid_domain_id: %v", bad)
	}
}
