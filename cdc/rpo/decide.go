package rpo

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/event"
)

// view is the survivor's view of the link from the failed region: for
// each partition, the source GTID set up to which every transaction of
// that partition is applied.
type view struct {
	flavor    string
	watermark mysql.GTIDSet
	parts     []mysql.GTIDSet // index: partition
}

// newView checks that link describes all n partitions consistently: every
// partition is present and its position includes the watermark.
func newView(flavor string, link apply.LinkStatus, n int32) (*view, error) {
	wm, err := mysql.ParseGTIDSet(flavor, link.AppliedGTID)
	if err != nil {
		return nil, fmt.Errorf("rpo: watermark %q: %w", link.AppliedGTID, err)
	}
	v := &view{flavor: flavor, watermark: wm, parts: make([]mysql.GTIDSet, n)}
	for _, ps := range link.Partitions {
		if ps.Partition < 0 || ps.Partition >= n {
			return nil, fmt.Errorf("rpo: the link status has partition %d but the topic has %d partitions: check Config.Partitions", ps.Partition, n)
		}
		pos, err := mysql.ParseGTIDSet(flavor, ps.Pos)
		if err != nil {
			return nil, fmt.Errorf("rpo: partition %d position %q: %w", ps.Partition, ps.Pos, err)
		}
		// Everything in the watermark is applied in every partition. A
		// partition's own position can lag it by GTIDs capture skipped
		// (echoes of applied transactions) that a heartbeat to another
		// partition carried: both together are what it has applied.
		if !pos.Contain(wm) {
			if err := pos.Update(link.AppliedGTID); err != nil {
				return nil, fmt.Errorf("rpo: partition %d position %q with the watermark %q: %w", ps.Partition, ps.Pos, link.AppliedGTID, err)
			}
		}
		v.parts[ps.Partition] = pos
	}
	for p, pos := range v.parts {
		if pos == nil && len(link.Partitions) == 0 {
			// The survivor never consumed the topic: every partition has
			// applied the watermark (its checkpoint table's) and no more.
			v.parts[p] = wm.Clone()
			continue
		}
		if pos == nil {
			return nil, fmt.Errorf("rpo: the link status has no partition %d of %d: every partition's position is needed, fetch the status again", p, n)
		}
	}
	return v, nil
}

// applied decides whether the survivor applied t, a replicated
// transaction of the failed region. A transaction is applied iff the
// position of the partition its key maps to includes its GTID: that
// partition applies in order, and its position is capture's position
// when it sent the partition's last applied message. A schema change
// went to every partition as a barrier, so it is applied iff every
// partition includes it. part is t's partition, or -1 for a schema change.
func (v *view) applied(t *event.Txn) (part int32, ok bool, err error) {
	g, err := mysql.ParseGTIDSet(v.flavor, t.GTID)
	if err != nil {
		return 0, false, fmt.Errorf("rpo: GTID %q: %w", t.GTID, err)
	}
	if t.DDL != nil {
		for _, pos := range v.parts {
			if !pos.Contain(g) {
				return -1, false, nil
			}
		}
		return -1, true, nil
	}
	part = capture.Partition(capture.Key(t), int32(len(v.parts)))
	return part, v.parts[part].Contain(g), nil
}
