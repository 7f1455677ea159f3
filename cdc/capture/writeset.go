package capture

import (
	"hash"
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
// Foreign keys (fks gives those of a table and those that reference it)
// link a child row and its parent row as MySQL's writesets do, as a
// read: a child row reads a hash of the parent's table and the values it
// references, and a parent row writes the same hash for every foreign
// key that references its table. A parent's delete then waits for the
// earlier insert of a child that referenced it (the delete's foreign key
// action, which the target repeats, must find the child), and a child's
// insert for its parent's, while two children of one parent (loans of
// one product) stay independent.
func Writeset(t *event.Txn, uks func(tb *event.Table) []catalog.Key, fks func(tb *event.Table) (of, to []catalog.FK)) (writes, reads []uint64) {
	perTable := make([][]keyCols, len(t.Tables))
	for i := range t.Tables {
		tb := &t.Tables[i]
		ks := []keyCols{{name: "PRIMARY", idx: tb.PK}}
		if len(tb.PK) == 0 { // the whole row is its identity
			ks[0].name = "ROW"
			for j := range tb.Cols {
				ks[0].idx = append(ks[0].idx, j)
			}
		}
		if uks != nil {
		next:
			for _, k := range uks(tb) {
				c := keyCols{name: k.Name}
				for _, name := range k.Cols {
					j := colIndex(tb, name)
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
	// links: per table, the foreign key hashes its rows write: the
	// parent table they are of, and where the values are in the row.
	type link struct {
		schema, table string
		k             keyCols
		read          bool
	}
	links := make([][]link, len(t.Tables))
	if fks != nil {
		for i := range t.Tables {
			tb := &t.Tables[i]
			of, to := fks(tb)
			for _, fk := range of {
				if k, ok := fkCols(tb, fk, fk.Cols); ok {
					links[i] = append(links[i], link{fk.RefSchema, fk.RefTable, k, true})
				}
			}
			for _, fk := range to {
				if k, ok := fkCols(tb, fk, fk.RefCols); ok {
					links[i] = append(links[i], link{tb.Schema, tb.Name, k, false})
				}
			}
		}
	}
	writes = make([]uint64, 0, 2*len(t.Rows))
	h := fnv.New64a()
	add := func(out *[]uint64, tb *event.Table, k keyCols, img []event.Value) {
		hashKey(h, tb.Schema, tb.Name, k.name)
		for _, i := range k.idx {
			v := img[i]
			if v.V == nil && k.name != "PRIMARY" && k.name != "ROW" {
				return // NULL: a unique key does not hold it
			}
			h.Write([]byte{0})
			h.Write([]byte(fold(v)))
		}
		*out = append(*out, h.Sum64())
	}
	for _, r := range t.Rows {
		tb := &t.Tables[r.T]
		for _, k := range perTable[r.T] {
			if r.Before != nil {
				add(&writes, tb, k, r.Before)
			}
			if r.After != nil {
				add(&writes, tb, k, r.After)
			}
		}
		for _, l := range links[r.T] {
			parent, out := &event.Table{Schema: l.schema, Name: l.table}, &writes
			if l.read {
				out = &reads
			}
			if r.Before != nil {
				add(out, parent, l.k, r.Before)
			}
			if r.After != nil {
				add(out, parent, l.k, r.After)
			}
		}
	}
	return writes, reads
}

// keyCols is a key a writeset hashes: its name and its columns'
// positions in a table's rows.
type keyCols struct {
	name string
	idx  []int
}

func hashKey(h hash.Hash64, schema, table, key string) {
	h.Reset()
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(table))
	h.Write([]byte{0})
	h.Write([]byte(key))
}

// fkCols is the key a foreign key's hash is named by (the referenced
// columns) with the positions of names, its columns on this side, in
// tb's rows; false when the binlog's table lacks one.
func fkCols(tb *event.Table, fk catalog.FK, names []string) (k keyCols, ok bool) {
	k.name = "FK " + strings.ToLower(strings.Join(fk.RefCols, ","))
	for _, name := range names {
		j := colIndex(tb, name)
		if j < 0 {
			return k, false
		}
		k.idx = append(k.idx, j)
	}
	return k, true
}

// fold is v's text as a case-insensitive, PAD SPACE collation compares it.
func fold(v event.Value) string {
	s, ok := v.V.(string)
	if !ok {
		return v.Text()
	}
	return strings.ToLower(strings.TrimRight(s, " "))
}

func colIndex(tb *event.Table, name string) int {
	for i, c := range tb.Cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
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
	// readers are, for a hash read since its last write, the last
	// transaction of each partition that read it: the next write waits
	// for them.
	readers map[uint64][]mark
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
	return &deps{partitions: partitions, last: map[uint64]mark{}, readers: map[uint64][]mark{}, floor: floor, max: max}
}

// add records that transaction seq, published to partition part, writes
// ws and reads rs, and returns what it depends on (nil: nothing in other
// partitions): a write waits for the hash's last write and its readers
// since, a read for the last write only.
func (d *deps) add(ws, rs []uint64, part int32, seq uint64) map[int32]uint64 {
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
	for _, hs := range [][]uint64{ws, rs} {
		for _, h := range hs {
			if m, ok := d.last[h]; ok {
				after(m.part, m.seq)
			} else {
				missed = true
			}
		}
	}
	for _, h := range ws {
		for _, m := range d.readers[h] {
			after(m.part, m.seq)
		}
	}
	if missed {
		for p := int32(0); p < d.partitions; p++ {
			after(p, d.floor)
		}
	}
	if len(d.last)+len(d.readers)+len(ws)+len(rs) > d.max {
		d.last, d.readers, d.floor = map[uint64]mark{}, map[uint64][]mark{}, seq-1
	}
	for _, h := range ws {
		d.last[h] = mark{part: part, seq: seq}
		delete(d.readers, h)
	}
	for _, h := range rs {
		d.readers[h] = readBy(d.readers[h], part, seq)
	}
	return out
}

// readBy records in ms that seq of part read a hash (one mark per
// partition: a later seq of it covers an earlier one).
func readBy(ms []mark, part int32, seq uint64) []mark {
	for i := range ms {
		if ms[i].part == part {
			ms[i].seq = seq
			return ms
		}
	}
	return append(ms, mark{part: part, seq: seq})
}

// all makes transaction seq of part depend on every transaction before it
// (its writeset is unknown).
func (d *deps) all(part int32, seq uint64) map[int32]uint64 {
	d.last, d.readers, d.floor = map[uint64]mark{}, map[uint64][]mark{}, seq
	out := map[int32]uint64{}
	for p := int32(0); p < d.partitions; p++ {
		if p != part && seq > 1 {
			out[p] = seq - 1
		}
	}
	return out
}
