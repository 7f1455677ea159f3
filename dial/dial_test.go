package dial

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regionplatform/region/config"
)

func load(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("REGION_TOKEN", "0123456789abcdef0123")
	t.Setenv("MYSQL_B_PASSWORD", "pw-b")
	cfg, err := config.Load("../config/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMySQLConfig(t *testing.T) {
	cfg := load(t)
	mc, err := MySQLConfig(cfg, "b")
	if err != nil {
		t.Fatal(err)
	}
	if mc.Passwd != "pw-b" || mc.Addr != "127.0.0.1:3307" || mc.TLS != nil {
		t.Errorf("mysql config: addr=%s tls=%v password set=%v", mc.Addr, mc.TLS, mc.Passwd != "")
	}
	if _, err := MySQLConfig(cfg, "zz"); err == nil || !strings.Contains(err.Error(), `region "zz"`) {
		t.Errorf("unknown region: %v", err)
	}
	t.Setenv("MYSQL_B_PASSWORD", "")
	if _, err := MySQLConfig(cfg, "b"); err == nil || !strings.Contains(err.Error(), "MYSQL_B_PASSWORD is not set") {
		t.Errorf("unset password env: %v", err)
	}
}

func TestTLSConfig(t *testing.T) {
	cfg := load(t)
	if tc, err := TLSConfig(cfg, "x", config.TLS{}); tc != nil || err != nil {
		t.Errorf("TLS off: %v %v", tc, err)
	}
	if tc, err := TLSConfig(cfg, "x", config.TLS{Enabled: true, ServerName: "db"}); err != nil || tc.ServerName != "db" || tc.MinVersion == 0 {
		t.Errorf("TLS on: %+v %v", tc, err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := TLSConfig(cfg, "regions[a].mysql.tls", config.TLS{CAFile: bad}); err == nil || !strings.Contains(err.Error(), "regions[a].mysql.tls.ca_file: no PEM certificate") {
		t.Errorf("bad CA: %v", err)
	}
	if _, err := TLSConfig(cfg, "etcd.tls", config.TLS{CAFile: filepath.Join(dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "etcd.tls.ca_file") {
		t.Errorf("missing CA: %v", err)
	}
}

func TestKafka(t *testing.T) {
	cfg := load(t)
	brokers, sc, err := Kafka(cfg, "a")
	if err != nil || len(brokers) != 1 || sc.Version.String() != "3.6.0" || sc.Net.TLS.Enable || sc.Net.SASL.Enable {
		t.Errorf("kafka: %v %v", brokers, err)
	}
}
