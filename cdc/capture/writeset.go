package capture

import (
	"hash/fnv"
	"strings"

	"github.com/regionplatform/region/cdc/catalog"
	"github.com/regionplatform/region/cdc/event"
)

// Transactions of different buckets go to different partitions and apply
// in parallel; two of them that write the same row (a global table, a
// transfer between users of two buckets) must still apply in their source
// order. As MySQL's binlog_transaction_dependency_tracking=WRITESET does,
// capture hashes what each transaction writes (its writeset) and
// remembers, for every hash, the partition and seq of the last
// transaction that wrote it. A transaction then carries, per other
// partition, the highest seq there it overlaps with (event.Txn.Deps), and
// the applier holds it until those partitions have applied that far.

// Writeset returns the hashes of what t writes: for every row, its table
// and primary key (every column, for a table without one), and its table and the values of every secondary unique
// key without a NULL in it (uks gives a table's keys), for the before and
// the after image alike (an update that moves a key writes both).
//
// Strings are compared as the default collations do, case-insensitive
// and without trailing spaces, so that two values a unique key holds
// equal hash equal; accents are not folded (a dependency between values
// that differ only in accents is missed).
func Writeset(t *event.Txn, uks func(tb *event.Table) []catalog.Key) []uint64 {
	type cols struct {
		name string
		idx  []int
	}
	perTable := make([][]cols, len(t.Tables))
	for i := range t.Tables {
		tb := &t.Tables[i]
		ks := []cols{{name: "PRIMARY", idx: tb.PK}}
		if len(tb.PK) == 0 { // the whole row is its identity
			ks[0].name = "ROW"
			for j := range tb.Cols {
				ks[0].idx = append(ks[0].idx, j)
			}
		}
		if uks != nil {
		next:
			for _, k := range uks(tb) {
				c := cols{name: k.Name}
				for _, name := range k.Cols {
					j := tb.ColIndex(name)
					if j < 0 {
						continue next // a column the binlog does not have (a schema change in flight)
					}
					c.idx = append(c.idx, j)
				}
				ks = append(ks, c)
			}
		}
		perTable[i] = ks
	}
	out := make([]uint64, 0, 2*len(t.Rows))
	h := fnv.New64a()
	add := func(tb *event.Table, k cols, img []event.Value) {
		h.Reset()
		h.Write([]byte(tb.Schema))
		h.Write([]byte{0})
		h.Write([]byte(tb.Name))
		h.Write([]byte{0})
		h.Write([]byte(k.name))
		for _, i := range k.idx {
			v := img[i]
			if v.V == nil && k.name != "PRIMARY" && k.name != "ROW" {
				return // NULL: a unique key does not hold it
			}
			h.Write([]byte{0})
			h.Write([]byte(fold(v)))
		}
		out = append(out, h.Sum64())
	}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		for _, k := range perTable[r.T] {
			if r.Before != nil {
				add(tb, k, r.Before)
			}
			if r.After != nil {
				add(tb, k, r.After)
			}
		}
	}
	return out
}

// fold is v's text as a case-insensitive, PAD SPACE collation compares it.
func fold(v event.Value) string {
	s, ok := v.V.(string)
	if !ok {
		return v.Text()
	}
	return strings.ToLower(strings.TrimRight(s, " "))
}

// maxHistory bounds the hashes deps remembers (about 16 MB).
const maxHistory = 1 << 18

// deps computes each published transaction's dependencies (see Writeset).
// It lives as long as one publish loop: a restart begins with a floor.
type deps struct {
	partitions int32
	// last is the partition and seq of the last transaction that wrote a
	// hash.
	last map[uint64]mark
	// floor: a hash not in last may have been written by any transaction
	// up to floor (published before a restart, or forgotten when last
	// was full); a transaction writing one depends on every partition up
	// to floor.
	floor uint64
	max   int
}

type mark struct {
	part int32
	seq  uint64
}

// newDeps starts tracking after seq floor (the checkpoint a capture
// resumes from).
func newDeps(partitions int32, floor uint64, max int) *deps {
	return &deps{partitions: partitions, last: map[uint64]mark{}, floor: floor, max: max}
}

// add records that transaction seq, published to partition part, writes
// ws, and returns what it depends on (nil: nothing in other partitions).
func (d *deps) add(ws []uint64, part int32, seq uint64) map[int32]uint64 {
	var out map[int32]uint64
	after := func(p int32, s uint64) {
		if p == part || s == 0 {
			return
		}
		if out == nil {
			out = map[int32]uint64{}
		}
		out[p] = max(out[p], s)
	}
	missed := false
	for _, h := range ws {
		if m, ok := d.last[h]; ok {
			after(m.part, m.seq)
		} else {
			missed = true
		}
	}
	if missed {
		for p := int32(0); p < d.partitions; p++ {
			after(p, d.floor)
		}
	}
	if len(d.last)+len(ws) > d.max {
		d.last, d.floor = map[uint64]mark{}, seq-1
	}
	for _, h := range ws {
		d.last[h] = mark{part: part, seq: seq}
	}
	return out
}

// all makes transaction seq of part depend on every transaction before it
// (its writeset is unknown).
func (d *deps) all(part int32, seq uint64) map[int32]uint64 {
	d.last, d.floor = map[uint64]mark{}, seq
	out := map[int32]uint64{}
	for p := int32(0); p < d.partitions; p++ {
		if p != part && seq > 1 {
			out[p] = seq - 1
		}
	}
	return out
}
