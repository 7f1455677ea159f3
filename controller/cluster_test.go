package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// testCluster is a set of real Raft nodes on loopback TCP with on-disk
// logs in the test's temporary folder.
type testCluster struct {
	t     testing.TB
	nodes map[string]*Node
	cfgs  map[string]Config
	dial  func(ctx context.Context, network, addr string) (net.Conn, error) // Config.Dial of every node
}

// freeAddrs returns n distinct loopback addresses with ports that were
// free a moment ago. All n listeners stay open until every port is picked,
// so the kernel cannot hand out the same port twice. The window in which
// another process could take one is tiny; the alternative (port 0) cannot
// be used because every node's address must be known before any starts
// (Bootstrap).
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("FAILOVER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newCluster configures nodes with the given ids (all voters) and starts
// them. Every node is stopped when the test ends. Ports are picked before
// any node starts (Bootstrap needs every address), so another process may
// take one in between: then the whole cluster is tried again on new ports.
func newCluster(t testing.TB, ids ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	t.Cleanup(c.stopAll)
	for try := 1; ; try++ {
		err := c.tryStart(ids)
		if err == nil {
			return c
		}
		c.stopAll()
		if !errors.Is(err, syscall.EADDRINUSE) || try == 5 {
			t.Fatal(err)
		}
		t.Logf("port taken, trying again: %v", err)
	}
}

func (c *testCluster) tryStart(ids []string) error {
	c.nodes, c.cfgs = map[string]*Node{}, map[string]Config{}
	var peers []Peer
	for i, addr := range freeAddrs(c.t, len(ids)) {
		peers = append(peers, Peer{ID: ids[i], Addr: addr})
	}
	dir := c.t.TempDir()
	for _, p := range peers {
		cfg := DefaultConfig(p.ID, p.Addr, filepath.Join(dir, p.ID))
		cfg.Bootstrap = peers
		cfg.Dial = c.dial
		cfg.Logger = testLogger(c.t).With("test", c.t.Name())
		c.cfgs[p.ID] = cfg
		n, err := New(cfg)
		if err != nil {
			return err
		}
		if err := n.Start(context.Background()); err != nil {
			return err
		}
		c.nodes[p.ID] = n
	}
	return nil
}

func (c *testCluster) stopAll() {
	for _, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Stop(ctx); err != nil {
			c.t.Errorf("stop %s: %v", n.ID(), err)
		}
		cancel()
	}
}

// start (re)starts a node from its data folder.
func (c *testCluster) start(id string) *Node {
	c.t.Helper()
	n, err := New(c.cfgs[id])
	if err != nil {
		c.t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	c.nodes[id] = n
	return n
}

func (c *testCluster) stop(id string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.nodes[id].Stop(ctx); err != nil {
		c.t.Fatal(err)
	}
}

// leader waits up to d for the running nodes to agree on one leader.
func (c *testCluster) leader(d time.Duration) *Node {
	c.t.Helper()
	var found *Node
	waitFor(c.t, d, "a leader agreed by every running node", func() bool {
		found = nil
		var agreed string
		for _, n := range c.nodes {
			if _, err := n.current(); err != nil {
				continue
			}
			id, _ := n.Leader()
			if id == "" || (agreed != "" && id != agreed) {
				return false
			}
			agreed = id
		}
		found = c.nodes[agreed]
		return found != nil && found.IsLeader()
	})
	return found
}

func (c *testCluster) followers() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if _, err := n.current(); err == nil && !n.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fence(region string) *FenceRegion {
	return &FenceRegion{Header: Header{Actor: "test"}, Region: region, Reason: fmt.Sprintf("fence %s", region)}
}

func execute(t testing.TB, n *Node, c Command) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		res, err := n.Execute(ctx, c)
		// On a loaded machine the 150 ms election timeout can cost a
		// leader its term mid-commit; it usually wins the next one.
		if errors.Is(err, ErrNotLeader) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("execute %s on %s: %v", c.Op(), n.ID(), err)
		}
		return res
	}
}
