package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidConfigLoadsWithDefaults(t *testing.T) {
	cfg, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if cfg.Buckets != 1024 || cfg.Etcd.Prefix != "/region/" || cfg.Regions[0].MySQL.Flavor != "mariadb" {
		t.Errorf("defaults not applied: buckets=%d prefix=%q flavor=%q", cfg.Buckets, cfg.Etcd.Prefix, cfg.Regions[0].MySQL.Flavor)
	}
	if cfg.Regions[1].URL != "http://127.0.0.1:7071" {
		t.Errorf("url default = %q", cfg.Regions[1].URL)
	}
	if cfg.Replication.DefaultConflict != ConflictReject || cfg.Replication.Tables[0].Conflict != ConflictReject {
		t.Errorf("conflict defaults: default_conflict %q, a listed table without its own %q; want reject for both", cfg.Replication.DefaultConflict, cfg.Replication.Tables[0].Conflict)
	}
	if cfg.Replication.PublishWait != 20*time.Millisecond || cfg.Replication.ApplyWait != 50*time.Millisecond {
		t.Errorf("replication waits: publish_wait %s, apply_wait %s; want the defaults 20ms and 50ms", cfg.Replication.PublishWait, cfg.Replication.ApplyWait)
	}
	abs, _ := filepath.Abs("testdata/viewer.token")
	if got := cfg.Resolve("viewer.token"); got != abs {
		t.Errorf("Resolve = %q, want %q", got, abs)
	}
}

// TestBadConfigs mutates the valid file and checks each problem is reported
// with its field path and a message that names the fix.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name      string
		from, to  string // replace the first 'from' in the valid file with 'to'
		wantPath  string
		wantInMsg string
	}{
		{"mysql port missing", "root@tcp(127.0.0.1:3307)/", "root@tcp(127.0.0.1)/", "regions[1].mysql.dsn", "missing port"},
		{"mysql password in dsn", "root@tcp(127.0.0.1:3306)/", "root:hunter2@tcp(127.0.0.1:3306)/", "regions[0].mysql.dsn", "use password_env or password_file"},
		{"mysql dsn garbage", "root@tcp(127.0.0.1:3306)/", "not a dsn", "regions[0].mysql.dsn", "user@tcp(host:port)"},
		{"mysql flavor", `dsn: "root@tcp(127.0.0.1:3306)/"}`, `dsn: "root@tcp(127.0.0.1:3306)/", flavor: postgres}`, "regions[0].mysql.flavor", "use mariadb or mysql"},
		{"mysql two secrets", "password_env: MYSQL_B_PASSWORD", "password_env: X, password_file: y", "regions[1].mysql", "keep one"},
		{"unknown field", "buckets: 1024", "buckets: 1024\nbukets: 3", "bukets", "unknown field (line 3): did you mean buckets?"},
		{"unknown nested field", "    mysql: {dsn: \"root@tcp(127.0.0.1:3307)/\"", "    mysqll: {dsn: \"root@tcp(127.0.0.1:3307)/\"", "regions[1].mysqll", "unknown field (line 16): did you mean mysql?"},
		{"unknown field, nothing close", "    listen: 127.0.0.1:7071", "    listen: 127.0.0.1:7071\n    colour: red", "regions[1].colour", "use one of name, mysql, kafka, listen, url"},
		{"unknown field in a flow mapping", "{name: b1, region: b,", "{name: b1, regoin: b,", "cells[1].regoin", "did you mean region?"},
		{"unknown field of an inline struct", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller:\n  witness: {raft: \"127.0.0.1:7300\", gosip: \"127.0.0.1:7301\"}\n", "controller.witness.gosip", "did you mean gossip?"},
		{"field set twice", "name: lender", "name: lender\nname: other", "name", "is set twice (lines 1 and 2): keep one"},
		{"not a number", "buckets: 1024", "buckets: many", "buckets", `"many" is not a whole number: write e.g. 10`},
		{"negative server id", `dsn: "root@tcp(127.0.0.1:3306)/"}`, `dsn: "root@tcp(127.0.0.1:3306)/", server_id: -1}`, "regions[0].mysql.server_id", `"-1" is not a whole number: write 0 to 4294967295`},
		{"not a duration", "endpoints: [http://127.0.0.1:2379]", "endpoints: [http://127.0.0.1:2379]\n  dial_timeout: soon", "etcd.dial_timeout", `"soon" is not a duration: write e.g. 10s`},
		{"not a boolean", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller: {fault_injection: maybe}\n", "controller.fault_injection", `"maybe" is not a boolean: write true or false`},
		{"list for a mapping", "etcd:\n  endpoints: [http://127.0.0.1:2379]", "etcd: [http://127.0.0.1:2379]", "etcd", "is a list, want a mapping of fields (endpoints, prefix"},
		{"mapping for a list", "databases: [lending]", "databases: {lending: true}", "replication.databases", "is a mapping, want a list"},
		{"list for a string", "- name: b\n", "- name: [b]\n", "regions[1].name", "is a list, want a string"},
		{"dial_via twice", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7071\n    dial_via: {\"127.0.0.1:3306\": \"127.0.0.1:13306\", \"127.0.0.1:3306\": \"127.0.0.1:23306\"}", `regions[1].dial_via["127.0.0.1:3306"]`, "is set twice"},
		{"buckets range", "buckets: 1024", "buckets: 70000", "buckets", "1 to 65536"},
		{"publish_wait range", "databases: [lending]", "databases: [lending]\n  publish_wait: 2s", "replication.publish_wait", "use 1ms to 500ms (default 20ms)"},
		{"etcd missing", "endpoints: [http://127.0.0.1:2379]", "endpoints: []", "etcd.endpoints", "at least one"},
		{"etcd not url", "endpoints: [http://127.0.0.1:2379]", "endpoints: [127.0.0.1:2379]", "etcd.endpoints[0]", "http://host:port"},
		{"etcd prefix", "endpoints: [http://127.0.0.1:2379]", "endpoints: [http://127.0.0.1:2379]\n  prefix: region", "etcd.prefix", "start and end with '/'"},
		{"token role", "role: viewer", "role: admin", "api.tokens[1].role", "use operator"},
		{"token no secret", "role: viewer, file: viewer.token", "role: viewer", "api.tokens[1]", "no secret"},
		{"token dup name", "name: dashboard", "name: oncall", "api.tokens[1].name", "own name"},
		{"no tokens", "  tokens:\n", "  tokens: []\n  x_unused:\n", "api.tokens", "missing: list at least one token"},
		{"no tokens, unknown field", "  tokens:\n", "  tokens: []\n  x_unused:\n", "api.x_unused", "unknown field (line 7): use one of tokens"},
		{"region name", "- name: b\n", "- name: B\n", "regions[1].name", "lower-case"},
		{"region dup", "- name: b\n", "- name: a\n", "regions[1].name", "unique"},
		{"listen bad", "listen: 127.0.0.1:7071", "listen: nowhere", "regions[1].listen", "host:port"},
		{"api url dup", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7070", "regions[1].url", "own address"},
		{"data dir", "    data_dir: /var/lib/regiond/b\n", "", "regions[1].data_dir", "missing"},
		{"kafka broker", `brokers: ["127.0.0.1:9093"]`, `brokers: ["kafka-b"]`, "regions[1].kafka.brokers[0]", "host:port"},
		{"kafka sasl", `brokers: ["127.0.0.1:9093"]}`, `brokers: ["127.0.0.1:9093"], sasl: {mechanism: GSSAPI}}`, "regions[1].kafka.sasl.mechanism", "not supported"},
		{"api tls half", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7071\n    api_tls: {cert_file: c.pem}", "regions[1].api_tls", "set both or neither"},
		{"cell region", "{name: b1, region: b,", "{name: b1, region: c,", "cells[1].region", "not a region"},
		{"cell standby self", "region: b, standby: a}", "region: b, standby: b}", "cells[1].standby", "another region"},
		{"cell standby missing", "region: b, standby: a}", "region: b}", "cells[1].standby", "fails over to"},
		{"system schema", "databases: [lending]", "databases: [lending, mysql]", "replication.databases[1]", "never replicated"},
		{"table not db.table", "name: lending.ledger_entries", "name: ledger_entries", "replication.tables[0].name", "db.table"},
		{"table db not replicated", "name: lending.ledger_entries", "name: other.ledger_entries", "replication.tables[0].name", "add it to replication.databases"},
		{"policy unknown", "conflict: home-cell-wins,", "conflict: first-wins,", "replication.tables[2].conflict", "not a policy"},
		{"lww no version", ", version_column: updated_at}", "}", "replication.tables[1].version_column", "last-writer-wins"},
		{"hcw no shard", "shard_column: id, conflict: home-cell-wins", "conflict: home-cell-wins", "replication.tables[2].shard_column", "owning cell"},
		{"hcw no version", "home-cell-wins, version_column: version}", "home-cell-wins}", "replication.tables[2].version_column", "optimistic-lock"},
		{"unit no shard", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.ledger_entries, class: unit}", "replication.tables[0].shard_column", "sharded by a user column"},
		{"class unknown", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.ledger_entries, shard_column: user_id, class: regional}", "replication.tables[0].class", "use unit, global, local"},
		{"global no home", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.rates, class: global}", "replication.tables[0].home", "missing: name the region"},
		{"global home unknown", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.rates, class: global, home: z}", "replication.tables[0].home", `"z" is not a region`},
		{"global with a shard column", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.rates, class: global, home: a, shard_column: user_id}", "replication.tables[0].shard_column", "written in one region"},
		{"home without global", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.ledger_entries, shard_column: user_id, home: a}", "replication.tables[0].home", "only a global table"},
		{"global write not global", "version_column: version}", "version_column: version}\nrouter: {global_writes: [{path: /x, table: lending.ledger_entries}]}", "router.global_writes[0].table", "not a global table"},
		{"global write path", "version_column: version}", "version_column: version}\nrouter: {global_writes: [{path: x, table: lending.x}]}", "router.global_writes[0].path", "from its first '/'"},
		{"read level", "version_column: version}", "version_column: version}\nrouter: {read_levels: [{path: /users/*/requests, level: bounded}]}", "router.read_levels[0].level", "not a consistency level"},
		{"read level bound", "version_column: version}", "version_column: version}\nrouter: {read_levels: [{path: /users/*/requests, level: bounded=-1s}]}", "router.read_levels[0].level", "positive duration"},
		{"read level path", "version_column: version}", "version_column: version}\nrouter: {read_levels: [{path: 'users/[', level: eventual}]}", "router.read_levels[0].path", "from its first '/'"},
		{"global write method", "version_column: version}", "version_column: version}\nrouter: {global_writes: [{path: /x, methods: [GET], table: lending.x}]}", "router.global_writes[0].methods[0]", "reads are never refused"},
		{"local with a shard column", "{name: lending.ledger_entries, shard_column: user_id}", "{name: lending.cache_*, class: local, shard_column: user_id}", "replication.tables[0].class", "never replicated"},
		{"local pattern bad", "{name: lending.ledger_entries, shard_column: user_id}", "{name: 'lending.[x', class: local}", "replication.tables[0].name", "lending.[x"},
		{"default policy", "databases: [lending]", "databases: [lending]\n  default_conflict: home-cell-wins", "replication.default_conflict", "per-table"},
		{"exclude pattern", "databases: [lending]", "databases: [lending]\n  exclude: [tmp]", "replication.exclude[0]", "db.table pattern"},
		{"dial_via key", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7071\n    dial_via: {mysql-a: \"127.0.0.1:13306\"}", `regions[1].dial_via["mysql-a"]`, "host:port regiond would dial"},
		{"dial_via relay", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7071\n    dial_via: {\"127.0.0.1:3306\": relay}", `regions[1].dial_via["127.0.0.1:3306"]`, "relay's address"},
		{"dial_via chained", "listen: 127.0.0.1:7071", "listen: 127.0.0.1:7071\n    dial_via: {\"127.0.0.1:3306\": \"127.0.0.1:13306\", \"127.0.0.1:13306\": \"127.0.0.1:23306\"}", `regions[1].dial_via["127.0.0.1:3306"]`, "itself relayed"},
		{"not yaml", "name: lender", "name: [lender", "(file)", "not valid YAML"},
		{"raft timeout too short", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller: {raft: {commit_timeout: 1ms}}\n", "controller.raft.commit_timeout", "below Raft's 5ms minimum"},
		{"raft election below heartbeat", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller: {raft: {heartbeat_timeout: 500ms}}\n", "controller.raft.election_timeout", "150ms is below heartbeat_timeout 500ms"},
		{"raft lease above heartbeat", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller: {raft: {leader_lease_timeout: 1s}}\n", "controller.raft.leader_lease_timeout", "above heartbeat_timeout 150ms"},
		{"raft unknown field", "    data_dir: /var/lib/regiond/b\n", "    data_dir: /var/lib/regiond/b\ncontroller: {raft: {heartbeat: 1s}}\n", "controller.raft.heartbeat", "use one of heartbeat_timeout, election_timeout"},
	}
	base := validYAML(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.from) {
				t.Fatalf("test setup: %q not in testdata/valid.yaml", tt.from)
			}
			_, err := Parse([]byte(strings.Replace(base, tt.from, tt.to, 1)))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want Problems, got %v", err)
			}
			for _, p := range ps {
				if strings.HasPrefix(p.Path, tt.wantPath) && strings.Contains(p.Msg, tt.wantInMsg) {
					return
				}
			}
			t.Errorf("no problem at %s containing %q; got:\n%v", tt.wantPath, tt.wantInMsg, err)
		})
	}
}

func TestEveryProblemReportedAtOnce(t *testing.T) {
	_, err := Parse([]byte("regions: [{name: a}]\n"))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	for _, want := range []string{"etcd.endpoints", "api.tokens", "regions[0].mysql.dsn", "regions[0].kafka.brokers", "regions[0].listen", "regions[0].data_dir", "cells"} {
		found := false
		for _, p := range ps {
			found = found || p.Path == want
		}
		if !found {
			t.Errorf("problem for %s not reported; got:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "problems:\n") {
		t.Errorf("several problems should be listed one per line: %v", err)
	}
}

// TestUnknownFieldsWithValidation checks that every unknown field and
// every undecodable value is reported with its path, in file order,
// followed by the validation problems, and that a field that could not be
// decoded is not reported again as missing.
func TestUnknownFieldsWithValidation(t *testing.T) {
	src := validYAML(t)
	for _, r := range [][2]string{
		{"buckets: 1024", "buckets: 1024\nbukets: 3"},
		{"    mysql: {dsn: \"root@tcp(127.0.0.1:3307)/\"", "    mysqll: {dsn: \"root@tcp(127.0.0.1:3307)/\""},
		{"{name: b1, region: b,", "{name: b1, regoin: b,"},
		{"role: viewer", "role: admin"},
		{"endpoints: [http://127.0.0.1:2379]", "endpoints: [http://127.0.0.1:2379]\n  dial_timeout: soon\n  prefix: [x]"},
	} {
		if !strings.Contains(src, r[0]) {
			t.Fatalf("test setup: %q not in testdata/valid.yaml", r[0])
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	_, err := Parse([]byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []string{
		"bukets: unknown field (line 3): did you mean buckets?",
		`etcd.dial_timeout: "soon" is not a duration: write e.g. 10s, 500ms or 2m`,
		"etcd.prefix: is a list, want a string",
		"regions[1].mysqll: unknown field (line 19): did you mean mysql?",
		"cells[1].regoin: unknown field (line 25): did you mean region?",
		`api.tokens[1].role: "admin" is not a role`,
		"regions[1].mysql.dsn: missing",
		`cells[1].region: "" is not a region of this deployment`,
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if i < len(ps) && !strings.HasPrefix(ps[i].String(), w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, ps[i], w)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n"} {
		if _, err := Parse([]byte(src)); err == nil || err.Error() != "(file): is empty: start from deploy/example.yaml" {
			t.Errorf("empty file %q: %v", src, err)
		}
	}
	if _, err := Parse([]byte("- a\n")); err == nil || !strings.HasPrefix(err.Error(), "(file): is a list, want a mapping of fields (name, buckets, etcd") {
		t.Errorf("a list: %v", err)
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tok"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{dir: dir}
	if v, err := cfg.Secret("f", "", "tok"); err != nil || v != "s3cret" {
		t.Errorf("file secret = %q, %v", v, err)
	}
	t.Setenv("REGION_TEST_SECRET", "e")
	if v, err := cfg.Secret("f", "REGION_TEST_SECRET", ""); err != nil || v != "e" {
		t.Errorf("env secret = %q, %v", v, err)
	}
	if _, err := cfg.Secret("api.tokens[0]", "REGION_TEST_UNSET_X", ""); err == nil || !strings.Contains(err.Error(), "api.tokens[0]") {
		t.Errorf("unset env: %v", err)
	}
}

// TestDeployExample keeps the production example valid.
func TestDeployExample(t *testing.T) {
	if _, err := Load("../deploy/example.yaml"); err != nil {
		t.Fatalf("deploy/example.yaml: %v", err)
	}
}

// TestMarshalParses checks that what Marshal writes (the lab's config
// files) reads back strictly to the same config.
func TestMarshalParses(t *testing.T) {
	for _, file := range []string{"testdata/valid.yaml", "../deploy/example.yaml"} {
		cfg, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("%s marshalled does not parse: %v\n%s", file, err, b)
		}
		b2, err := again.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Errorf("%s: marshalled, parsed and marshalled again differs:\n%s\n%s", file, b, b2)
		}
	}
}

// TestGossipKey: the controller's gossip key is base64 of 16, 24 or 32
// bytes, read from its file; anything else is an error naming the fix.
func TestGossipKey(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content string
		n       int
		err     string
	}{
		{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 32, ""},
		{"MDEyMzQ1Njc4OWFiY2RlZg==", 16, ""},
		{"not base64!", 0, "not base64"},
		{"MDEyMzQ1Njc=", 0, "8 bytes; use 16, 24 or 32"},
	} {
		p := filepath.Join(dir, "gossip.key")
		if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Controller: Controller{GossipKeyFile: p}}
		key, err := cfg.GossipKey()
		if len(key) != c.n || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%q: %d bytes, %v; want %d, %q", c.content, len(key), err, c.n, c.err)
		}
	}
	if key, err := (&Config{}).GossipKey(); key != nil || err != nil {
		t.Errorf("no key configured: %v %v", key, err)
	}
}

// TestControllerTLSIsMutual: controller.tls needs a CA, a certificate and
// its key, or none.
func TestControllerTLSIsMutual(t *testing.T) {
	b, err := os.ReadFile("../deploy/three-regions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "controller:\n", "controller:\n  tls: {cert_file: node.pem, key_file: node-key.pem}\n", 1)
	if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), "controller.tls: Raft TLS is mutual: set ca_file") {
		t.Errorf("controller.tls without ca_file: %v", err)
	}
	src = strings.Replace(string(b), "controller:\n", "controller:\n  tls: {ca_file: ca.pem, cert_file: node.pem, key_file: node-key.pem}\n", 1)
	if _, err := Parse([]byte(src)); err != nil {
		t.Errorf("controller.tls with all three: %v", err)
	}
}
