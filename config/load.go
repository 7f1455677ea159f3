package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvConfig is the environment variable regionctl reads the config path from.
const EnvConfig = "REGIONCTL_CONFIG"

// Load reads, defaults and validates the deployment file at path. The
// error, if any, lists every problem found (see Problems).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.dir = abs
	return cfg, nil
}

// Parse decodes a deployment from YAML strictly (DecodeStrict), applies
// defaults and validates it. The error is Problems: every field that
// could not be decoded (an unknown field, a value of the wrong kind) and
// every validation problem, at once. Relative paths in it are taken from
// the working directory; Load takes them from the file's folder.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	ps, err := DecodeStrict(data, &cfg)
	if errors.Is(err, io.EOF) {
		return nil, Problems{{Path: FileProblem, Msg: "is empty: start from deploy/example.yaml"}}
	}
	if err != nil {
		return nil, err
	}
	if ps.Has(FileProblem) { // not YAML, or not a mapping: nothing else to say
		return nil, ps
	}
	cfg.applyDefaults()
	var invalid Problems
	if err := cfg.Validate(); err != nil && !errors.As(err, &invalid) {
		return nil, err
	}
	if ps = ps.Add(invalid); len(ps) > 0 {
		return nil, ps
	}
	return &cfg, nil
}

// Marshal encodes the config as YAML (what the lab writes).
func (c *Config) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Resolve returns p made absolute against the config file's folder.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Secret reads a secret from the named environment variable or file
// (relative to the config file). field names the setting for errors.
// Exactly one of env and file should be set; neither gives "".
func (c *Config) Secret(field, env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: environment variable %s is not set: export it, or use a file", field, env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(c.Resolve(file))
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s: file %s is empty", field, file)
		}
		return v, nil
	}
	return "", nil
}

func (c *Config) applyDefaults() {
	if c.Name == "" {
		c.Name = "region"
	}
	if c.Buckets == 0 {
		c.Buckets = 1024
	}
	if c.Etcd.Prefix == "" {
		c.Etcd.Prefix = "/region/"
	}
	if c.Etcd.DialTimeout == 0 {
		c.Etcd.DialTimeout = 5e9
	}
	for i := range c.Regions {
		r := &c.Regions[i]
		if r.MySQL.Flavor == "" {
			r.MySQL.Flavor = "mariadb"
		}
		if r.MySQL.ServerID == 0 {
			r.MySQL.ServerID = uint32(1000 + i)
		}
		if r.Kafka.Version == "" {
			r.Kafka.Version = "3.6.0"
		}
		if r.URL == "" && r.Listen != "" {
			scheme := "http"
			if r.APITLS.CertFile != "" {
				scheme = "https"
			}
			r.URL = scheme + "://" + r.Listen
		}
	}
	if c.Router.UserHeader == "" && c.Router.UserCookie == "" && c.Router.UserQuery == "" {
		c.Router.UserHeader = "X-User-Id"
	}
	if c.Router.RetryAfter == 0 {
		c.Router.RetryAfter = 1e9
	}
	if c.Router.AckTimeout == 0 {
		c.Router.AckTimeout = 5e9
	}
	if c.Router.MaxLag == 0 {
		c.Router.MaxLag = 5e9
	}
	if c.Router.CatchUpTimeout == 0 {
		c.Router.CatchUpTimeout = 30e9
	}
	if c.Controller.FailAfter == 0 {
		c.Controller.FailAfter = 3e9
	}
	if c.Controller.Cooldown == 0 {
		c.Controller.Cooldown = 300e9
	}
	if c.Replication.VerifyEvery == 0 {
		c.Replication.VerifyEvery = 120e9
	}
	if c.Replication.ApplyWait == 0 {
		c.Replication.ApplyWait = 50 * time.Millisecond
	}
	if c.Replication.PublishWait == 0 {
		c.Replication.PublishWait = 20 * time.Millisecond
	}
	if t := &c.Replication.Topic; t.Partitions == 0 {
		t.Partitions = 8
	}
	if t := &c.Replication.Topic; t.ReplicationFactor == 0 {
		t.ReplicationFactor = 3
	}
	if t := &c.Replication.Topic; t.MinInsyncReplicas == 0 {
		t.MinInsyncReplicas = min(2, t.ReplicationFactor)
	}
	if t := &c.Replication.Topic; t.Retention == 0 {
		t.Retention = 168 * time.Hour
	}
	if c.Replication.DefaultConflict == "" {
		c.Replication.DefaultConflict = ConflictReject
	}
	for i := range c.Replication.Tables {
		t := &c.Replication.Tables[i]
		switch {
		case t.Conflict != "":
		case t.Class == ClassGlobal:
			t.Conflict = ConflictOverwrite // one writer: its later writes win
		default:
			t.Conflict = c.Replication.DefaultConflict
		}
	}
	if c.Router.SessionWait == 0 {
		c.Router.SessionWait = 200 * time.Millisecond
	}
	for i := range c.Router.GlobalWrites {
		if w := &c.Router.GlobalWrites[i]; len(w.Methods) == 0 {
			w.Methods = []string{"POST", "PUT", "PATCH", "DELETE"}
		}
	}
}
