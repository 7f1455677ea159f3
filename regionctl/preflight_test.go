package regionctl_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/preflight"
)

// TestPreflightOnTheLab: regionctl preflight passes on a lab; then each
// bad setting MariaDB 10.11 has, set on a running server one at a time,
// fails it with the setting and the fix named (log_bin_compress only
// warns: rows written compressed replicate, checked here); an account
// without a privilege is named; and regiond does not start capture on a
// setting that would lose data, saying why in its status.
func TestPreflightOnTheLab(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	out, errOut, err := run(t, "preflight", "--dir", st.Dir)
	if err != nil || !strings.Contains(out, "0 failed") {
		t.Fatalf("preflight of a fresh lab: %v\n%s%s", err, out, errOut)
	}
	ra, _ := st.Region("a")
	rb, _ := st.Region("b")
	a, err := lab.OpenMySQL(ra.MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := lab.OpenMySQL(rb.MySQLPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var bDomain, bServer string
	b.QueryRow("SELECT @@gtid_domain_id, @@server_id").Scan(&bDomain, &bServer)
	for _, c := range []struct {
		db            *sql.DB
		set, undo     string
		region, check string
		sev           preflight.Severity
		fix           string
	}{
		{a, "SET GLOBAL binlog_format = MIXED", "SET GLOBAL binlog_format = ROW", "a", "binlog_format", preflight.Fatal, "SET GLOBAL binlog_format = ROW"},
		{a, "SET GLOBAL binlog_row_image = NOBLOB", "SET GLOBAL binlog_row_image = FULL", "a", "binlog_row_image", preflight.Fatal, "SET GLOBAL binlog_row_image = FULL"},
		{a, "SET GLOBAL binlog_row_metadata = MINIMAL", "SET GLOBAL binlog_row_metadata = FULL", "a", "binlog_row_metadata", preflight.Fatal, "SET GLOBAL binlog_row_metadata = FULL"},
		{a, "SET GLOBAL log_bin_compress = ON", "SET GLOBAL log_bin_compress = OFF", "a", "log_bin_compress", preflight.Warning, "capture decodes compressed binlog events"},
		{a, "SET GLOBAL server_id = " + bServer, "SET GLOBAL server_id = 1", "b", "server_id", preflight.Fatal, "region a has server_id " + bServer},
		{a, "SET GLOBAL gtid_domain_id = " + bDomain, "SET GLOBAL gtid_domain_id = 1", "b", "gtid_domain_id", preflight.Fatal, "region a has gtid_domain_id " + bDomain},
	} {
		var before string
		a.QueryRow("SELECT @@server_id").Scan(&before)
		if c.check == "server_id" && before != "1" {
			t.Fatalf("region a's server_id is %s, the test restores 1", before)
		}
		if _, err := c.db.Exec(c.set); err != nil {
			t.Fatalf("%s: %v", c.set, err)
		}
		out, _, err := run(t, "preflight", "--dir", st.Dir, "--json")
		if _, uerr := c.db.Exec(c.undo); uerr != nil {
			t.Fatalf("%s: %v", c.undo, uerr)
		}
		var res struct {
			OK       bool
			Findings []preflight.Finding
		}
		if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
			t.Fatalf("%s: preflight --json: %v\n%s", c.set, jerr, out)
		}
		bad := preflight.Failed(res.Findings, preflight.Warning)
		if fails := c.sev != preflight.Warning; (err != nil) != fails || res.OK == fails || len(bad) != 1 || bad[0].Region != c.region || bad[0].Check != c.check || bad[0].Severity != c.sev || !strings.Contains(bad[0].Fix, c.fix) {
			t.Errorf("%s: exit %v, failed %+v; want one %s %s of region %s saying %q", c.set, err, bad, c.sev, c.check, c.region, c.fix)
		}
	}

	// Compressed events replicate: a's rows written with log_bin_compress
	// on reach b.
	for _, q := range []string{"SET GLOBAL log_bin_compress = ON", "SET GLOBAL log_bin_compress_min_len = 10", "CREATE DATABASE IF NOT EXISTS lending",
		"CREATE TABLE lending.compressed (id INT PRIMARY KEY, pad VARCHAR(500))",
		"INSERT INTO lending.compressed VALUES (1, REPEAT('x', 400)), (2, REPEAT('y', 300))",
		"UPDATE lending.compressed SET pad = REPEAT('z', 450) WHERE id = 2", "DELETE FROM lending.compressed WHERE id = 1",
		"SET GLOBAL log_bin_compress = OFF"} {
		if _, err := a.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := lab.WaitUntil(context.Background(), 30*time.Second, func() bool {
		var got string
		b.QueryRow("SELECT GROUP_CONCAT(CONCAT(id, ':', LENGTH(pad), LEFT(pad, 1)) ORDER BY id) FROM lending.compressed").Scan(&got)
		return got == "2:450z"
	}); err != nil {
		t.Errorf("rows written with log_bin_compress on did not reach b: %v", err)
	}

	// An account without READ_ONLY ADMIN.
	for _, q := range []string{"CREATE USER 'thin'@'127.0.0.1' IDENTIFIED BY 'pw'", "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'thin'@'127.0.0.1'", "GRANT SELECT ON *.* TO 'thin'@'127.0.0.1'"} {
		if _, err := a.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	thin, err := sql.Open("mysql", fmt.Sprintf("thin:pw@tcp(127.0.0.1:%d)/", ra.MySQLPort))
	if err != nil {
		t.Fatal(err)
	}
	defer thin.Close()
	grants, err := preflight.Grants(context.Background(), thin)
	if err != nil {
		t.Fatal(err)
	}
	bad := preflight.Failed(preflight.CheckGrants("a", preflight.MariaDB, grants), preflight.Warning)
	if len(bad) != 1 || bad[0].Check != "privilege READ_ONLY ADMIN" || !strings.Contains(bad[0].Fix, "GRANT READ_ONLY ADMIN ON *.*") {
		t.Errorf("an account without READ_ONLY ADMIN (%v): %+v", grants, bad)
	}

	// regiond does not capture with a minimal row image, and says why;
	// it warns of compression in its log.
	for _, q := range []string{"SET GLOBAL binlog_row_image = MINIMAL", "SET GLOBAL log_bin_compress = ON"} {
		if _, err := a.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	defer a.Exec("SET GLOBAL binlog_row_image = FULL")
	defer a.Exec("SET GLOBAL log_bin_compress = OFF")
	if err := lab.Kill(context.Background(), st.Dir, "a", "regiond"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "a", "regiond"); err != nil {
		t.Fatal(err)
	}
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: ra.APIURL(), Token: tok}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := c.Status(context.Background())
		if err == nil && !s.Capture.Running && strings.Contains(s.Capture.Error, "binlog_row_image is MINIMAL, needs FULL") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture of a with binlog_row_image=MINIMAL: %+v %v", s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if log, err := os.ReadFile(ra.Regiond.Log); err != nil || !strings.Contains(string(log), `"msg":"preflight: log_bin_compress is ON"`) {
		t.Errorf("regiond a's log has no preflight warning of log_bin_compress (%v)", err)
	}
}

// TestKafkaInit: kafka init creates a region's missing topic with
// replication.topic's partitions and sets retention and
// min.insync.replicas on the ones that exist; kafka check then passes,
// and fails on a topic whose retention is shorter than the config's.
func TestKafkaInit(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	if err := lab.Kill(context.Background(), st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	rb, _ := st.Region("b")
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin([]string{fmt.Sprintf("127.0.0.1:%d", rb.KafkaPort)}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(capture.Topic("b")); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "kafka", "check", "--dir", st.Dir); err == nil || !strings.Contains(out, "regionctl kafka init creates it") {
		t.Errorf("kafka check without b's topic: %v\n%s", err, out)
	}
	out, errOut, err := run(t, "kafka", "init", "--dir", st.Dir)
	if err != nil || !strings.Contains(errOut, fmt.Sprintf("region b: topic region.cdc.b created: %d partitions", st.PartitionCount())) || !strings.Contains(errOut, "region a: topic region.cdc.a exists") {
		t.Fatalf("kafka init: %v\n%s%s", err, out, errOut)
	}
	md, err := admin.DescribeTopics([]string{capture.Topic("b")})
	if err != nil || len(md) != 1 || int32(len(md[0].Partitions)) != st.PartitionCount() {
		t.Fatalf("b's topic after init: %+v %v", md, err)
	}
	if out, _, err := run(t, "kafka", "check", "--dir", st.Dir); err != nil || !strings.Contains(out, "0 failed") {
		t.Errorf("kafka check after init: %v\n%s", err, out)
	}
	ra, _ := st.Region("a")
	adminA, err := sarama.NewClusterAdmin([]string{fmt.Sprintf("127.0.0.1:%d", ra.KafkaPort)}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer adminA.Close()
	short := "3600000"
	if err := adminA.AlterConfig(sarama.TopicResource, capture.Topic("a"), map[string]*string{"retention.ms": &short}, false); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "kafka", "check", "--dir", st.Dir); err == nil || !strings.Contains(out, "retention") || !strings.Contains(out, "1h0m0s") {
		t.Errorf("kafka check with a 1h retention: %v\n%s", err, out)
	}
}
