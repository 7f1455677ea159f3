package liveness

import (
	"sort"
	"sync"

	"github.com/hashicorp/memberlist"
)

// membership is the member's own copy of the gossip's live members, kept
// by memberlist's event callbacks. memberlist.Members returns pointers to
// nodes it keeps changing (a data race under -race); the callbacks run
// while memberlist holds its lock, so copying there is safe.
type membership struct {
	mu    sync.Mutex
	nodes map[string]MemberInfo
}

var _ memberlist.EventDelegate = (*membership)(nil)

func (s *membership) set(n *memberlist.Node) {
	meta, _ := decodeMeta(n.Meta)
	info := MemberInfo{Name: n.Name, Addr: n.Address(), Meta: meta}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		s.nodes = map[string]MemberInfo{}
	}
	s.nodes[n.Name] = info
}

func (s *membership) NotifyJoin(n *memberlist.Node)   { s.set(n) }
func (s *membership) NotifyUpdate(n *memberlist.Node) { s.set(n) }
func (s *membership) NotifyLeave(n *memberlist.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, n.Name)
}

// list returns the live members sorted by name.
func (s *membership) list() []MemberInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MemberInfo, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
