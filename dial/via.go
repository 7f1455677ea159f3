package dial

import (
	"context"
	"database/sql"
	"net"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-sql-driver/mysql"

	"github.com/regionplatform/region/config"
)

// Dialer makes one node's outbound TCP connections, sending those to an
// address its config relays (regions[].dial_via, controller.witness.dial_via)
// to the relay instead. A relay is an egress proxy or WAN emulator that
// forwards to the original address; the lab's wan component is one.
// A Dialer is safe for concurrent use; the zero value dials directly.
//
//	d := dial.For(cfg, "b")
//	db, err := d.MySQL(cfg, "a") // connects to a's MySQL through b's relay, if any
type Dialer struct {
	via     map[string]string
	timeout time.Duration
}

// For returns the dialer of node: a region's name, or "witness" for the
// controller's witness. A node with no dial_via dials directly.
func For(cfg *config.Config, node string) *Dialer {
	d := &Dialer{timeout: 5 * time.Second}
	if r, ok := cfg.Region(node); ok {
		d.via = r.DialVia
	} else if w := cfg.Controller.Witness; node == "witness" && w != nil {
		d.via = w.DialVia
	}
	return d
}

// Addr returns the address a connection to addr really dials: its relay,
// or addr itself.
func (d *Dialer) Addr(addr string) string {
	if d == nil {
		return addr
	}
	if to, ok := d.via[addr]; ok {
		return to
	}
	return addr
}

// Relayed reports whether d has any relay; callers keep their own default
// dialing when it has none.
func (d *Dialer) Relayed() bool { return d != nil && len(d.via) > 0 }

// DialContext connects to addr, through its relay if it has one.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{KeepAlive: 30 * time.Second}
	if d != nil && d.timeout > 0 {
		nd.Timeout = d.timeout
	}
	return nd.DialContext(ctx, network, d.Addr(addr))
}

// Dial is DialContext without a context (sarama's proxy.Dialer).
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// MySQLConfig is the package's MySQLConfig, dialing through d.
func (d *Dialer) MySQLConfig(cfg *config.Config, region string) (*mysql.Config, error) {
	mc, err := MySQLConfig(cfg, region)
	if err != nil {
		return nil, err
	}
	if d.Relayed() {
		mc.DialFunc = d.DialContext
	}
	return mc, nil
}

// MySQL is the package's MySQL, dialing through d.
func (d *Dialer) MySQL(cfg *config.Config, region string) (*sql.DB, error) {
	mc, err := d.MySQLConfig(cfg, region)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// Kafka is the package's Kafka, dialing through d: the seed brokers and
// the addresses the brokers advertise in their metadata alike, since
// sarama dials both with the config's dialer.
func (d *Dialer) Kafka(cfg *config.Config, region string) ([]string, *sarama.Config, error) {
	brokers, sc, err := Kafka(cfg, region)
	if err != nil {
		return nil, nil, err
	}
	if d.Relayed() {
		sc.Net.Proxy.Enable = true
		sc.Net.Proxy.Dialer = &saramaDialer{d: d, timeout: sc.Net.DialTimeout}
	}
	return brokers, sc, nil
}

// saramaDialer keeps sarama's dial timeout, which its own dialer would
// apply, when sarama dials through a Dialer.
type saramaDialer struct {
	d       *Dialer
	timeout time.Duration
}

func (s *saramaDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.d.DialContext(ctx, network, addr)
}
