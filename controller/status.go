package controller

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Status is a node's view of the cluster, for `regionctl controller
// status`.
type Status struct {
	ID           string `json:"id"`
	Addr         string `json:"addr"`
	State        string `json:"state"` // Follower, Candidate, Leader, Shutdown
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LeaderID     string `json:"leader_id"`
	LeaderAddr   string `json:"leader_addr"`
	// LastContact is how long ago a follower last heard from the leader
	// (zero on the leader).
	LastContact time.Duration `json:"last_contact_ns"`
	Voters      []Peer        `json:"voters"`
}

// Status returns the node's view of the cluster. A stopped node reports
// state "Shutdown" and nothing else.
func (n *Node) Status() (Status, error) {
	st := Status{ID: n.cfg.ID, Addr: n.cfg.advertise(), State: "Shutdown"}
	in, err := n.current()
	if err != nil {
		return st, nil
	}
	r := in.raft
	st.State = r.State().String()
	st.Term = r.CurrentTerm()
	st.LastIndex = r.LastIndex()
	st.AppliedIndex = r.AppliedIndex()
	a, i := r.LeaderWithID()
	st.LeaderID, st.LeaderAddr = string(i), string(a)
	if st.State != "Leader" {
		if t := r.LastContact(); !t.IsZero() {
			st.LastContact = time.Since(t)
		}
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, fmt.Errorf("failover: status: %w", err)
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		st.Voters = append(st.Voters, Peer{ID: string(s.ID), Addr: string(s.Address)})
	}
	return st, nil
}
