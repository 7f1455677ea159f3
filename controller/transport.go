package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// transport is Raft's TCP transport, dialing with cfg.Dial when it is
// set, and mutual TLS when cfg.TLS is.
func (n *Node) transport(adv *net.TCPAddr, hl hclog.Logger) (*raft.NetworkTransport, error) {
	if n.cfg.Dial == nil && n.cfg.TLS == nil {
		return raft.NewTCPTransportWithLogger(n.cfg.BindAddr, adv, 3, 2*time.Second, hl)
	}
	ln, err := net.Listen("tcp", n.cfg.BindAddr)
	if err != nil {
		return nil, err
	}
	s := &streamLayer{Listener: ln, adv: adv, dial: n.cfg.Dial}
	if s.dial == nil {
		var d net.Dialer
		s.dial = d.DialContext
	}
	if t := n.cfg.TLS; t != nil {
		server := t.Clone()
		server.ClientAuth, server.ClientCAs = tls.RequireAndVerifyClientCert, t.RootCAs
		s.Listener, s.tls = tls.NewListener(ln, server), t
	}
	return raft.NewNetworkTransportWithLogger(s, 3, 2*time.Second, hl), nil
}

// streamLayer is a raft.StreamLayer on a TCP listener with its own dial,
// and TLS when tls is set.
type streamLayer struct {
	net.Listener
	adv  net.Addr
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	tls  *tls.Config
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// Addr is the advertised address, as raft's own TCP layer reports it.
func (s *streamLayer) Addr() net.Addr { return s.adv }

// Dial implements raft.StreamLayer: a TCP connection, with a TLS
// handshake (verifying the peer's certificate for its host) when the
// layer has TLS.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.dial(ctx, "tcp", string(address))
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, errors.New("dial " + string(address) + ": i/o timeout")
	}
	if err != nil || s.tls == nil {
		return c, err
	}
	t := s.tls.Clone()
	if t.ServerName == "" {
		t.ServerName, _, _ = net.SplitHostPort(string(address))
	}
	tc := tls.Client(c, t)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, errors.New("dial " + string(address) + ": TLS: " + err.Error())
	}
	return tc, nil
}
