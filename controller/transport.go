package controller

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// transport is Raft's TCP transport, dialing with cfg.Dial when it is set.
func (n *Node) transport(adv *net.TCPAddr, hl hclog.Logger) (*raft.NetworkTransport, error) {
	if n.cfg.Dial == nil {
		return raft.NewTCPTransportWithLogger(n.cfg.BindAddr, adv, 3, 2*time.Second, hl)
	}
	ln, err := net.Listen("tcp", n.cfg.BindAddr)
	if err != nil {
		return nil, err
	}
	return raft.NewNetworkTransportWithLogger(&streamLayer{Listener: ln, adv: adv, dial: n.cfg.Dial}, 3, 2*time.Second, hl), nil
}

// streamLayer is a raft.StreamLayer on a TCP listener with its own dial.
type streamLayer struct {
	net.Listener
	adv  net.Addr
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// Addr is the advertised address, as raft's own TCP layer reports it.
func (s *streamLayer) Addr() net.Addr { return s.adv }

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.dial(ctx, "tcp", string(address))
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, errors.New("dial " + string(address) + ": i/o timeout")
	}
	return c, err
}
