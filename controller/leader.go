package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// observe follows Raft's state and leader changes for the metrics and
// LeaderCh until in.stop is closed.
func (n *Node) observe(in *instance) {
	defer close(in.done)
	ch := make(chan raft.Observation, 16)
	in.obs = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	in.raft.RegisterObserver(in.obs)
	id := n.cfg.ID
	n.m.state.WithLabelValues(id).Set(float64(in.raft.State()))
	wasLeader := false
	for {
		select {
		case <-in.stop:
			if wasLeader {
				n.notifyLeader(false)
			}
			return
		case o := <-ch:
			switch d := o.Data.(type) {
			case raft.LeaderObservation:
				n.m.leaderChanges.WithLabelValues(id).Inc()
				n.log.Info("controller leader changed", "leader", string(d.LeaderID), "leader_addr", string(d.LeaderAddr))
			case raft.RaftState:
				n.m.state.WithLabelValues(id).Set(float64(d))
				if is := d == raft.Leader; is != wasLeader {
					wasLeader = is
					n.notifyLeader(is)
				}
			}
		}
	}
}

// notifyLeader replaces any unread value in leaderCh with is.
func (n *Node) notifyLeader(is bool) {
	select {
	case <-n.leaderCh:
	default:
	}
	n.leaderCh <- is
}

// LeaderCh receives true when this node becomes leader and false when it
// stops being leader (also on Stop). It holds only the latest value: a
// slow reader sees the current state, not every transition. One reader
// per node. The channel stays the same across Stop and Start.
func (n *Node) LeaderCh() <-chan bool { return n.leaderCh }

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool {
	in, err := n.current()
	return err == nil && in.raft.State() == raft.Leader
}

// Leader returns the id and Raft address of the leader this node knows
// of; both are empty when there is none.
func (n *Node) Leader() (id, addr string) {
	in, err := n.current()
	if err != nil {
		return "", ""
	}
	a, i := in.raft.LeaderWithID()
	return string(i), string(a)
}

func (n *Node) notLeader(in *instance) error {
	a, i := in.raft.LeaderWithID()
	return &NotLeaderError{LeaderID: string(i), LeaderAddr: string(a)}
}

// Execute applies c through the Raft log and returns once this node, the
// leader, has applied it. It fails with a *NotLeaderError (ErrNotLeader)
// on a follower, with ErrBadCommand for a malformed command and with
// ErrRejected for a command the state refused; in every such case the
// state is unchanged. If c's Header.At is zero, Execute sets it from the
// leader's clock.
//
// If ctx ends, or leadership is lost while waiting, the command may still
// be applied later: check State before retrying.
func (n *Node) Execute(ctx context.Context, c Command) (Result, error) {
	start := time.Now()
	res, kind, err := n.execute(ctx, c)
	if err != nil {
		n.m.applyErrors.WithLabelValues(n.cfg.ID, kind).Inc()
		return res, err
	}
	n.m.applySeconds.WithLabelValues(n.cfg.ID, c.Op()).Observe(time.Since(start).Seconds())
	return res, nil
}

// NotApplied reports whether Execute failed because this node did not
// lead, before the command entered the log: it was not applied and never
// will be, so it is safe to execute again (on the leader). A command that
// lost leadership while waiting may still be applied: not so.
func NotApplied(err error) bool {
	var nl *NotLeaderError
	return errors.As(err, &nl) && !errors.Is(err, raft.ErrLeadershipLost)
}

func (n *Node) execute(ctx context.Context, c Command) (Result, string, error) {
	in, err := n.current()
	if err != nil {
		return Result{}, "raft", err
	}
	if in.raft.State() != raft.Leader {
		return Result{}, "not_leader", n.notLeader(in)
	}
	if h := c.header(); h.At.IsZero() {
		h.At = n.clock().UTC()
	}
	data, err := EncodeCommand(c)
	if err != nil {
		return Result{}, "bad_command", err
	}
	f := in.raft.Apply(data, n.timeout(ctx))
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return Result{}, "not_leader", fmt.Errorf("%s: %w (%w)", c.Op(), n.notLeader(in), err)
		}
		return Result{}, "raft", fmt.Errorf("%s: %w", c.Op(), err)
	}
	res := Result{Op: c.Op(), Index: f.Index()}
	if a, ok := f.Response().(applied); ok && a.err != nil {
		kind := "rejected"
		if errors.Is(a.err, ErrBadCommand) {
			kind = "bad_command"
		}
		return res, kind, a.err
	}
	return res, "", nil
}

func (n *Node) timeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return n.cfg.ApplyTimeout
}

// wait waits for f or ctx. Raft resolves every future, at the latest when
// it shuts down, so the helper goroutine always ends.
func wait(ctx context.Context, f raft.Future) error {
	errc := make(chan error, 1)
	go func() { errc <- f.Error() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AddVoter adds a voter (a regiond or the witness) to the cluster, or
// updates its address. Only the leader may.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	in, err := n.current()
	if err != nil {
		return err
	}
	if in.raft.State() != raft.Leader {
		return n.notLeader(in)
	}
	if err := wait(ctx, in.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, n.timeout(ctx))); err != nil {
		return fmt.Errorf("failover: add voter %s at %s: %w", id, addr, err)
	}
	return nil
}

// RemoveVoter removes a server from the cluster. Only the leader may.
func (n *Node) RemoveVoter(ctx context.Context, id string) error {
	in, err := n.current()
	if err != nil {
		return err
	}
	if in.raft.State() != raft.Leader {
		return n.notLeader(in)
	}
	if err := wait(ctx, in.raft.RemoveServer(raft.ServerID(id), 0, n.timeout(ctx))); err != nil {
		return fmt.Errorf("failover: remove voter %s: %w", id, err)
	}
	return nil
}

// TransferLeadership asks Raft to hand leadership to another voter (the
// most up to date). Only the leader may. The witness calls it when it
// wins an election: it breaks ties, it does not act.
func (n *Node) TransferLeadership(ctx context.Context) error {
	in, err := n.current()
	if err != nil {
		return err
	}
	if in.raft.State() != raft.Leader {
		return n.notLeader(in)
	}
	if err := wait(ctx, in.raft.LeadershipTransfer()); err != nil {
		return fmt.Errorf("failover: transfer leadership: %w", err)
	}
	return nil
}

// Barrier waits until this leader has applied every entry committed
// before it: State then holds all a former leader did. Only the leader
// may; each call adds an entry to the log.
func (n *Node) Barrier(ctx context.Context) error {
	in, err := n.current()
	if err != nil {
		return err
	}
	if in.raft.State() != raft.Leader {
		return n.notLeader(in)
	}
	if err := wait(ctx, in.raft.Barrier(n.timeout(ctx))); err != nil {
		return fmt.Errorf("controller: barrier: %w", err)
	}
	return nil
}

// Snapshot takes a snapshot now (Raft also takes them on its own every
// SnapshotThreshold entries).
func (n *Node) Snapshot(ctx context.Context) error {
	in, err := n.current()
	if err != nil {
		return err
	}
	if err := wait(ctx, in.raft.Snapshot()); err != nil {
		return fmt.Errorf("failover: snapshot: %w", err)
	}
	return nil
}

// Region returns one region of the state as this node has applied it,
// without copying the rest: for callers on a hot path (appliers ask it
// for every batch).
func (n *Node) Region(name string) Region {
	n.mu.Lock()
	f := n.last
	n.mu.Unlock()
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Regions[name]
}

// State returns a copy of the replicated state as this node has applied
// it (possibly behind the leader). After Stop it is the last state known.
func (n *Node) State() *State {
	n.mu.Lock()
	f := n.last
	n.mu.Unlock()
	return f.state()
}

// WhileLeader calls fn every interval while this node leads the
// controller, until ctx ends; since is when it won the leadership it
// holds. It returns nil when ctx ends.
func (n *Node) WhileLeader(ctx context.Context, every time.Duration, fn func(since time.Time)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var since time.Time // zero while this node does not lead
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !n.IsLeader() {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = time.Now()
		}
		fn(since)
	}
}

// Current reports whether this node's state is the controller's as of
// now, give or take within: it leads, or it heard from a leader within
// that time and has applied everything that leader had committed. A
// node that has just started, or is cut off, is not current: its State
// may lack what happened meanwhile.
func (n *Node) Current(within time.Duration) bool {
	in, err := n.current()
	if err != nil {
		return false
	}
	r := in.raft
	switch {
	case r.State() == raft.Leader:
		return true
	case r.State() != raft.Follower:
		return false
	}
	if _, id := r.LeaderWithID(); id == "" || time.Since(r.LastContact()) > within {
		return false
	}
	var commit uint64
	if _, err := fmt.Sscan(r.Stats()["commit_index"], &commit); err != nil || commit == 0 {
		return false
	}
	return r.AppliedIndex() >= commit
}
