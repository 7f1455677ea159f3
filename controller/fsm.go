package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// ErrRejected is wrapped by the error of a well-formed command that the
// state refused (an unknown failover id, a region already in failover).
// The state is unchanged.
var ErrRejected = errors.New("command rejected")

// fsm is the raft.FSM of the controller. raft calls Apply, Snapshot and
// Restore from one goroutine; readers call state() from any goroutine.
//
// Apply is deterministic: it depends only on the log entry and the state
// before it (commands carry their own time). A command is applied to a
// copy that replaces the state only on success, so a rejected or even a
// panicking command leaves the state as it was.
type fsm struct {
	mu sync.RWMutex
	st *State
}

var _ raft.FSM = (*fsm)(nil)

func newFSM() *fsm { return &fsm{st: newState()} }

// applied is what Apply returns to the leader's ApplyFuture.
type applied struct {
	op  string
	err error
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		return applied{err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next, err := applySafely(f.st, c)
	if err != nil {
		return applied{op: c.Op(), err: fmt.Errorf("%w: %s: %w", ErrRejected, c.Op(), err)}
	}
	f.st = next
	return applied{op: c.Op()}
}

func applySafely(cur *State, c Command) (next *State, err error) {
	defer func() {
		if p := recover(); p != nil {
			next, err = nil, fmt.Errorf("panic while applying: %v", p)
		}
	}()
	next = cur.Clone()
	if err := c.apply(next); err != nil {
		return nil, err
	}
	return next, nil
}

func (f *fsm) state() *State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Clone()
}

// Snapshot implements raft.FSM. It encodes the state at once (the state
// is small) so Persist may run concurrently with later Applies.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(f.st)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return snapshot(b), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	s, err := decodeState(b)
	if err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	f.mu.Lock()
	f.st = s
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("write snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
