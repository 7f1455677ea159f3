// Package dial turns a deployment's config into connections: MySQL
// (go-sql-driver), etcd (clientv3) and Kafka (sarama), each with the TLS
// and credentials the config names. Secrets are read here, at dial time,
// and never logged.
package dial

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-sql-driver/mysql"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/regionplatform/region/config"
)

// TLSConfig builds a client *tls.Config from t, or nil when TLS is off.
func TLSConfig(cfg *config.Config, field string, t config.TLS) (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in for tests
	if t.CAFile != "" {
		pem, err := os.ReadFile(cfg.Resolve(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", field, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: no PEM certificate in %s", field, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.Resolve(t.CertFile), cfg.Resolve(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", field, err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// MySQLConfig returns the driver config for the named region's MySQL, with
// its password and TLS filled in.
func MySQLConfig(cfg *config.Config, region string) (*mysql.Config, error) {
	r, ok := cfg.Region(region)
	if !ok {
		return nil, fmt.Errorf("region %q is not in the config", region)
	}
	field := "regions[" + region + "].mysql"
	mc, err := mysql.ParseDSN(r.MySQL.DSN)
	if err != nil {
		return nil, fmt.Errorf("%s.dsn: %w", field, err)
	}
	if mc.Passwd, err = cfg.Secret(field, r.MySQL.PasswordEnv, r.MySQL.PasswordFile); err != nil {
		return nil, err
	}
	if mc.TLS, err = TLSConfig(cfg, field+".tls", r.MySQL.TLS); err != nil {
		return nil, err
	}
	if mc.Timeout == 0 {
		mc.Timeout = 5 * time.Second
	}
	mc.ParseTime = true
	mc.InterpolateParams = true
	return mc, nil
}

// MySQL opens a pool to the named region's MySQL. Like sql.Open it does
// not connect; the first query does.
func MySQL(cfg *config.Config, region string) (*sql.DB, error) {
	mc, err := MySQLConfig(cfg, region)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// Etcd connects a client to the deployment's etcd.
func Etcd(ctx context.Context, cfg *config.Config) (*clientv3.Client, error) {
	e := cfg.Etcd
	pw, err := cfg.Secret("etcd", e.PasswordEnv, e.PasswordFile)
	if err != nil {
		return nil, err
	}
	tc, err := TLSConfig(cfg, "etcd.tls", e.TLS)
	if err != nil {
		return nil, err
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   e.Endpoints,
		DialTimeout: e.DialTimeout,
		Username:    e.Username,
		Password:    pw,
		TLS:         tc,
		Context:     ctx,
		Logger:      nopZap(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", e.Endpoints, err)
	}
	return c, nil
}

// Kafka returns the brokers and a sarama config for the named region's
// Kafka, with version, TLS and SASL set. Callers add what their role needs
// (producer idempotence, consumer settings).
func Kafka(cfg *config.Config, region string) ([]string, *sarama.Config, error) {
	r, ok := cfg.Region(region)
	if !ok {
		return nil, nil, fmt.Errorf("region %q is not in the config", region)
	}
	field := "regions[" + region + "].kafka"
	sc := sarama.NewConfig()
	v, err := sarama.ParseKafkaVersion(r.Kafka.Version)
	if err != nil {
		return nil, nil, fmt.Errorf("%s.version: %w", field, err)
	}
	sc.Version = v
	sc.ClientID = "regiond-" + cfg.Name
	sc.Net.DialTimeout = 5 * time.Second
	tc, err := TLSConfig(cfg, field+".tls", r.Kafka.TLS)
	if err != nil {
		return nil, nil, err
	}
	if tc != nil {
		sc.Net.TLS.Enable, sc.Net.TLS.Config = true, tc
	}
	if m := r.Kafka.SASL.Mechanism; m != "" {
		pw, err := cfg.Secret(field+".sasl", r.Kafka.SASL.PasswordEnv, "")
		if err != nil {
			return nil, nil, err
		}
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Mechanism = sarama.SASLMechanism(m)
		sc.Net.SASL.User, sc.Net.SASL.Password = r.Kafka.SASL.Username, pw
	}
	return r.Kafka.Brokers, sc, nil
}
