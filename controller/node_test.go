package controller

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClusterElectsAndReplicates(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	l := c.leader(5 * time.Second)

	// A follower refuses and names the leader.
	f := c.followers()[0]
	_, err := f.Execute(context.Background(), fence("a"))
	var nl *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.LeaderID != l.ID() || nl.LeaderAddr != c.cfgs[l.ID()].BindAddr {
		t.Fatalf("execute on follower: %v, want ErrNotLeader naming %s", err, l.ID())
	}
	if !strings.Contains(err.Error(), l.ID()) {
		t.Errorf("error %q does not name the leader", err)
	}

	res := execute(t, l, fence("b"))
	if res.Index == 0 || res.Op != OpRegionFence {
		t.Errorf("result %+v", res)
	}
	for id, n := range c.nodes {
		waitFor(t, 5*time.Second, "region b fenced on "+id, func() bool { return n.State().Regions["b"].Fenced })
		if at := n.State().Regions["b"].FencedAt; at.IsZero() {
			t.Errorf("%s: FencedAt not stamped by the leader", id)
		}
	}

	// A rejected command reaches every node's log but changes nothing.
	_, err = l.Execute(context.Background(), &UnfenceRegion{Region: "zz"})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("unfence unknown region: %v, want ErrRejected", err)
	}
	// A malformed one never reaches the log.
	last := l.mustStatus(t).LastIndex
	if _, err := l.Execute(context.Background(), &FenceRegion{Region: "Bad Name", Reason: "x"}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("bad name: %v, want ErrBadCommand", err)
	}
	if got := l.mustStatus(t).LastIndex; got != last {
		t.Errorf("a malformed command was logged: last index %d -> %d", last, got)
	}

	st := l.mustStatus(t)
	if st.State != "Leader" || st.LeaderID != l.ID() || len(st.Voters) != 3 || st.Term == 0 {
		t.Errorf("status %+v", st)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Error(err)
	}
}

func (n *Node) mustStatus(t testing.TB) Status {
	t.Helper()
	st, err := n.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLeaderFailover stops the leader and measures how long the others
// take to elect a new one and apply a command through it.
func TestLeaderFailover(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	old := c.leader(5 * time.Second)
	execute(t, old, fence("a"))

	d := measureFailover(t, c, old)
	t.Logf("leader failover: %s -> new leader elected and first command applied in %s", old.ID(), d.Round(time.Millisecond))
	if d > 3*time.Second {
		t.Errorf("leader failover took %s, want under 3s with DefaultConfig", d)
	}
	// The stopped node is idempotently stopped and comes back as follower
	// with everything applied meanwhile.
	c.stop(old.ID())
	n := c.start(old.ID())
	waitFor(t, 5*time.Second, "restarted node catches up", func() bool { return n.State().Regions["c"].Fenced })
	if !n.State().Regions["a"].Fenced {
		t.Error("restarted node lost the command applied before it stopped")
	}
}

// measureFailover stops the leader and returns the time until a new
// leader applied a command.
func measureFailover(t testing.TB, c *testCluster, old *Node) time.Duration {
	t.Helper()
	start := time.Now()
	c.stop(old.ID())
	var nl *Node
	waitFor(t, 10*time.Second, "a new leader", func() bool {
		for _, n := range c.nodes {
			if n.IsLeader() {
				nl = n
				return true
			}
		}
		return false
	})
	execute(t, nl, fence("c"))
	return time.Since(start)
}

// BenchmarkLeaderFailover reports the time from stopping the leader of a
// three-node cluster to the first command applied by its successor.
//
//	go test ./failover -run '^$' -bench LeaderFailover -benchtime 10x
func BenchmarkLeaderFailover(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := newCluster(b, "a", "b", "c")
		old := c.leader(5 * time.Second)
		execute(b, old, fence("a"))
		b.StartTimer()
		total += measureFailover(b, c, old)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/failover")
}

func TestRestartKeepsState(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	l := c.leader(5 * time.Second)
	execute(t, l, &PlaceCell{Cell: "cell-1", Home: "a", Standby: "b"})
	// A snapshot on every node, then more log after it: a restart needs both.
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "cell placed on "+n.ID(), func() bool { return n.State().Cells["cell-1"].Home == "a" })
		if err := n.Snapshot(context.Background()); err != nil {
			t.Fatalf("snapshot %s: %v", n.ID(), err)
		}
	}
	execute(t, l, fence("b"))
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "b fenced on "+n.ID(), func() bool { return n.State().Regions["b"].Fenced })
	}
	before := l.State()

	// Restart all three in the same process, from their folders.
	for id := range c.nodes {
		c.stop(id)
		if err := c.nodes[id].Stop(context.Background()); err != nil {
			t.Fatalf("second stop: %v", err)
		}
	}
	for id := range c.cfgs {
		c.start(id)
	}
	l = c.leader(10 * time.Second)
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "state recovered on "+n.ID(), func() bool {
			got, _ := json.Marshal(n.State())
			want, _ := json.Marshal(before)
			return string(got) == string(want)
		})
	}
	execute(t, l, &UnfenceRegion{Region: "b"})
}

// TestWitnessKeepsMajority: two regions' nodes and a witness; with one
// region's node down the other and the witness still commit.
func TestWitnessKeepsMajority(t *testing.T) {
	c := newCluster(t, "a", "b", "witness")
	c.leader(5 * time.Second)
	const down = "a" // leader or not
	c.stop(down)
	l := c.leader(5 * time.Second)
	if l.ID() == down {
		t.Fatalf("stopped node %s is still leader", down)
	}
	execute(t, l, &MarkRegionFailed{Region: down, Reason: "down in test"})
	st := l.mustStatus(t)
	if len(st.Voters) != 3 {
		t.Errorf("voters %+v", st.Voters)
	}
	if !l.State().Regions[down].Fenced {
		t.Errorf("region %s not fenced after region.failed", down)
	}
}

func TestMembershipChange(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	l := c.leader(5 * time.Second)
	// Remove a follower, then add it back at the same address.
	f := c.followers()[0]
	if err := l.RemoveVoter(context.Background(), f.ID()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.mustStatus(t).Voters); n != 2 {
		t.Fatalf("%d voters after remove", n)
	}
	if err := f.AddVoter(context.Background(), "x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) {
		t.Errorf("AddVoter on a follower: %v", err)
	}
	if err := l.AddVoter(context.Background(), f.ID(), c.cfgs[f.ID()].BindAddr); err != nil {
		t.Fatal(err)
	}
	if n := len(l.mustStatus(t).Voters); n != 3 {
		t.Fatalf("%d voters after add", n)
	}
	execute(t, l, fence("a"))
	waitFor(t, 5*time.Second, "re-added node applies", func() bool { return f.State().Regions["a"].Fenced })
}

func TestStoppedNode(t *testing.T) {
	c := newCluster(t, "a")
	n := c.leader(5 * time.Second)
	c.stop("a")
	if _, err := n.Execute(context.Background(), fence("a")); !errors.Is(err, ErrStopped) {
		t.Errorf("execute on stopped node: %v", err)
	}
	if st, err := n.Status(); err != nil || st.State != "Shutdown" {
		t.Errorf("status of stopped node: %+v %v", st, err)
	}
}

// BenchmarkExecute measures one command applied through a three-node
// cluster with on-disk logs (leader commit = majority fsync).
//
//	go test ./failover -run '^$' -bench Execute -benchtime 2000x
func BenchmarkExecute(b *testing.B) {
	c := newCluster(b, "a", "b", "c")
	l := c.leader(5 * time.Second)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		execute(b, l, fence("a"))
	}
}

func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := New(DefaultConfig("a", l.Addr().String(), t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background())
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("start on a taken port: %v, want EADDRINUSE naming the address", err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Errorf("stop after a failed start: %v", err)
	}
	// The failed start released the stores: a start on a free port works.
	n, err = New(DefaultConfig("a", freeAddrs(t, 1)[0], n.cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
