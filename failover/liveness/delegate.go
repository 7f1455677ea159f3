package liveness

import "github.com/hashicorp/memberlist"

// delegate plugs the member into memberlist: it publishes the member's
// meta, sends its view in gossip broadcasts and push/pull syncs, and hands
// received views to the member. memberlist calls it from its own
// goroutines.
type delegate struct {
	m     *Member
	meta  []byte
	queue *memberlist.TransmitLimitedQueue
}

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		d.m.log.Error("node meta too large; not published", "bytes", len(d.meta), "limit", limit)
		return nil
	}
	return d.meta
}

func (d *delegate) NotifyMsg(b []byte) { d.m.receive(b) }

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(bool) []byte { return d.m.encodedOwnView() }

func (d *delegate) MergeRemoteState(b []byte, _ bool) {
	if len(b) > 0 {
		d.m.receive(b)
	}
}

// viewBroadcast is one view in the gossip queue; a newer view of the same
// observer replaces it.
type viewBroadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = viewBroadcast{}

func (b viewBroadcast) Name() string { return b.name }
func (b viewBroadcast) Invalidates(o memberlist.Broadcast) bool {
	n, ok := o.(memberlist.NamedBroadcast)
	return ok && n.Name() == b.name
}
func (b viewBroadcast) Message() []byte { return b.msg }
func (b viewBroadcast) Finished()       {}
