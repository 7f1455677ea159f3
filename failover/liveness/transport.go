package liveness

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// FaultyTransport wraps memberlist's transport so that a member can be cut
// off from the gossip in process: while isolated, everything it sends is
// dropped (as a lost UDP packet would be), its dials fail and everything
// it receives is discarded. memberlist gossips over UDP as well as TCP,
// so a TCP proxy cannot partition it; this can. Use it through
// Config.WrapTransport:
//
//	ft := new(liveness.FaultyTransport)
//	cfg.WrapTransport = ft.Wrap
//	...
//	ft.Isolate(true)
//
// Drop cuts it off from some peers only, by their gossip address.
type FaultyTransport struct {
	memberlist.NodeAwareTransport
	isolated atomic.Bool
	dropped  atomic.Pointer[map[string]bool]
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	stop     chan struct{}
	done     chan struct{}
}

var _ memberlist.NodeAwareTransport = (*FaultyTransport)(nil)

// errIsolated is what dials return while isolated.
var errIsolated = errors.New("liveness: member isolated by FaultyTransport")

// Wrap starts forwarding inner's traffic and returns t; it is meant for
// Config.WrapTransport, once per FaultyTransport.
func (t *FaultyTransport) Wrap(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	t.NodeAwareTransport = inner
	t.packets = make(chan *memberlist.Packet)
	t.streams = make(chan net.Conn)
	t.stop, t.done = make(chan struct{}), make(chan struct{})
	go t.forward()
	return t
}

// Isolate cuts the member off (true) or reconnects it (false).
func (t *FaultyTransport) Isolate(on bool) { t.isolated.Store(on) }

// Drop cuts the member off from the peers at addrs (host:port of their
// gossip) and reconnects it to every other: what it sends them is
// dropped, its dials to them fail and the packets it receives from them
// are discarded. Streams they open to it cannot be told apart by
// address, so cut both sides (each side's Drop naming the other) for a
// full partition. No addrs reconnects it to everyone.
func (t *FaultyTransport) Drop(addrs ...string) {
	m := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		m[a] = true
	}
	t.dropped.Store(&m)
}

// cut reports whether traffic with addr is dropped now.
func (t *FaultyTransport) cut(addr string) bool {
	if t.isolated.Load() {
		return true
	}
	m := t.dropped.Load()
	return m != nil && (*m)[addr]
}

func (t *FaultyTransport) forward() {
	defer close(t.done)
	in, ins := t.NodeAwareTransport.PacketCh(), t.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-t.stop:
			return
		case p := <-in:
			if p.From != nil && t.cut(p.From.String()) {
				continue
			}
			select {
			case t.packets <- p:
			case <-t.stop:
				return
			}
		case c := <-ins:
			if t.isolated.Load() {
				c.Close()
				continue
			}
			select {
			case t.streams <- c:
			case <-t.stop:
				c.Close()
				return
			}
		}
	}
}

// PacketCh implements memberlist.Transport.
func (t *FaultyTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// StreamCh implements memberlist.Transport.
func (t *FaultyTransport) StreamCh() <-chan net.Conn { return t.streams }

// WriteTo implements memberlist.Transport.
func (t *FaultyTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.cut(addr) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteTo(b, addr)
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *FaultyTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.cut(a.Addr) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

// DialTimeout implements memberlist.Transport.
func (t *FaultyTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.cut(addr) {
		return nil, errIsolated
	}
	return t.NodeAwareTransport.DialTimeout(addr, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (t *FaultyTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.cut(a.Addr) {
		return nil, errIsolated
	}
	return t.NodeAwareTransport.DialAddressTimeout(a, timeout)
}

// Shutdown implements memberlist.Transport: it shuts the inner transport
// down, then stops forwarding. The order matters: the inner transport's
// listeners block on sending what they received until it is forwarded,
// and its Shutdown waits for them (memberlist still reads at that point).
func (t *FaultyTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	close(t.stop)
	<-t.done
	return err
}
