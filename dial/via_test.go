package dial

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestDialerVia: an address with a relay is dialed at the relay, others
// directly; MySQL and Kafka configs dial through the dialer.
func TestDialerVia(t *testing.T) {
	listen := func() (net.Listener, chan struct{}) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		got := make(chan struct{}, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				got <- struct{}{}
				c.Close()
			}
		}()
		return ln, got
	}
	target, atTarget := listen()
	relay, atRelay := listen()
	cfg := load(t)
	b, _ := cfg.Region("b")
	b.DialVia = map[string]string{target.Addr().String(): relay.Addr().String()}

	d := For(cfg, "b")
	c, err := d.DialContext(context.Background(), "tcp", target.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-atRelay:
	case <-atTarget:
		t.Fatal("b's dial reached the target directly, not through its relay")
	case <-time.After(10 * time.Second):
		t.Fatal("b's dial reached neither the relay nor the target")
	}
	if c, err = For(cfg, "a").DialContext(context.Background(), "tcp", target.Addr().String()); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-atTarget:
	case <-time.After(10 * time.Second):
		t.Fatal("a's dial (no relay) did not reach the target")
	}

	if mc, err := d.MySQLConfig(cfg, "a"); err != nil || mc.DialFunc == nil {
		t.Errorf("MySQL config through a relay: DialFunc set %v, err %v", mc != nil && mc.DialFunc != nil, err)
	}
	if _, sc, err := d.Kafka(cfg, "a"); err != nil || !sc.Net.Proxy.Enable || sc.Net.Proxy.Dialer == nil {
		t.Errorf("Kafka config through a relay: proxy %v, err %v", sc != nil && sc.Net.Proxy.Enable, err)
	}
	if _, sc, _ := For(cfg, "a").Kafka(cfg, "b"); sc.Net.Proxy.Enable {
		t.Error("a region without dial_via dials Kafka through a proxy")
	}
}
