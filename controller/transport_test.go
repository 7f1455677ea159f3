package controller

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestTransportDial: with Config.Dial set, every Raft connection is made
// by it (a relay's dialer, in production), and the cluster works as usual.
func TestTransportDial(t *testing.T) {
	var dials atomic.Int64
	c := &testCluster{t: t, dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(c.stopAll)
	if err := c.tryStart([]string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	l := c.leader(10 * time.Second)
	execute(t, l, fence("b"))
	if dials.Load() == 0 {
		t.Fatal("the cluster elected a leader and committed without calling Config.Dial")
	}
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "region b fenced on "+n.ID(), func() bool { return n.State().Regions["b"].Fenced })
	}
}
