// Package event is the wire format of change data capture: one Kafka
// message per source transaction (or per ordered fragment of a large one),
// and the heartbeats that carry watermarks to idle partitions.
//
// A message is binary (version 2, binary.go; compressed by the producer).
// Version 1 was JSON; Decode still reads it, so a stream written before an
// upgrade applies after it, and JSON is how a message is shown to a
// person (the quarantine). Row values are typed loosely, as MySQL accepts
// them back as statement parameters: null, integers, floats, strings
// (UTF-8), and bytes (in JSON {"b": base64}). Decimals, dates and times
// travel as strings, exactly as the source printed them.
//
// Every message carries Seq, capture's count of published transactions.
// Capture checkpoints it with the source position, so a transaction re-sent
// after a capture restart has the same Seq: the applier skips any message
// whose Seq is not above the last one it applied in that partition.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the wire format version written by this code: 2, binary.
// Decode reads version 1 (JSON) too.
const Version = 2

// Kind is what a message carries.
type Kind string

// Kinds of messages.
const (
	// KindTxn is a source transaction, or a fragment of one.
	KindTxn Kind = "txn"
	// KindHeartbeat carries capture's watermark to a partition that had no
	// transaction for a while: every transaction up to Seq that belongs to
	// this partition came before it.
	KindHeartbeat Kind = "hb"
)

// Message is one Kafka message of a capture stream.
type Message struct {
	V    int  `json:"v"`
	Kind Kind `json:"kind"`
	// Source is the region whose MySQL wrote the transaction.
	Source string `json:"src"`
	// Seq is capture's published-transaction counter (see package doc).
	Seq uint64 `json:"seq"`
	// Pos is the source GTID set after this transaction (for a heartbeat:
	// after every transaction published so far).
	Pos string `json:"pos"`
	// Time is the source commit time (txn; the binlog gives seconds) or the
	// send time (heartbeat).
	Time time.Time `json:"ts"`
	// Sent is when capture published the message (milliseconds); lag is
	// measured from it.
	Sent time.Time `json:"sent,omitempty"`
	// Txn is set for KindTxn.
	Txn *Txn `json:"txn,omitempty"`
}

// Txn is a source transaction.
type Txn struct {
	// GTID of the transaction at the source, e.g. "1-1-42" or "uuid:42".
	GTID string `json:"gtid"`
	// Bucket is the routing bucket of the transaction (of its first row
	// with a shard column), or -1 for a transaction on global tables only.
	Bucket int32 `json:"bucket"`
	// Epoch and Cell are the routing epoch and owning cell a data-access
	// guard admitted the transaction under (its stamp: binlog.StampTable;
	// 0 and "" for a transaction no guard stamped).
	Epoch uint64 `json:"epoch,omitempty"`
	Cell  string `json:"cell,omitempty"`
	// Frag is set when the transaction is split over several messages;
	// Chunk is then this fragment's slice of the whole message's encoding
	// (see Split and Join), and Tables, Rows and DDL are empty.
	Frag  *Fragment `json:"frag,omitempty"`
	Chunk []byte    `json:"chunk,omitempty"`
	// Deps orders the transaction after earlier ones in other partitions
	// whose writesets overlap with its own (the same row, or the same
	// value of a unique key): partition p must have applied every one of
	// its transactions up to seq Deps[p] before this one applies. The
	// transaction's own partition is ordered by the log and is not listed.
	Deps map[int32]uint64 `json:"deps,omitempty"`
	// Tables describes the tables the rows refer to.
	Tables []Table `json:"tables,omitempty"`
	Rows   []Row   `json:"rows,omitempty"`
	// DDL is set for a schema change (then there are no rows).
	DDL *DDL `json:"ddl,omitempty"`
}

// Fragment places a message in a transaction split over several.
type Fragment struct {
	// Index counts from 0; Count is the number of fragments.
	Index int `json:"i"`
	Count int `json:"n"`
}

// Table describes a table as the source's binlog described it when the
// transaction ran (so it follows DDL without a schema cache).
type Table struct {
	Schema string   `json:"schema"`
	Name   string   `json:"name"`
	Cols   []string `json:"cols"`
	// Types are MySQL column type codes (as in the binlog).
	Types []byte `json:"types"`
	// PK lists the indexes in Cols of the primary key columns (none: the
	// table has no primary key; its rows are matched by every column).
	PK []int `json:"pk"`
}

// KeyText is the primary key of the row img as text, "col=value,...":
// how a key is shown, and what identifies it in the applier's tables.
func (t *Table) KeyText(img []Value) string {
	parts := make([]string, len(t.PK))
	for i, p := range t.PK {
		parts[i] = t.Cols[p] + "=" + img[p].Text()
	}
	return strings.Join(parts, ",")
}

// ColIndex returns the index in Cols of column name, -1 if the table has
// none. MySQL's column names are case-insensitive, and so is ColIndex.
func (t *Table) ColIndex(name string) int {
	for i, c := range t.Cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// KeyChanged reports whether an update from before to after moves the
// row to another primary key.
func (t *Table) KeyChanged(before, after []Value) bool {
	for _, p := range t.PK {
		if !before[p].Equal(after[p]) {
			return true
		}
	}
	return false
}

// Op is a row change.
type Op string

// Row changes.
const (
	Insert Op = "i"
	Update Op = "u"
	Delete Op = "d"
)

// Row is one changed row.
type Row struct {
	// T is the index of the row's table in Txn.Tables.
	T  int `json:"t"`
	Op Op  `json:"op"`
	// Before is the row before the change (update, delete); After the row
	// after it (insert, update). Values are in Table.Cols order.
	Before []Value `json:"b,omitempty"`
	After  []Value `json:"a,omitempty"`
}

// DDL is a schema change statement.
type DDL struct {
	// Schema is the default database the statement ran in.
	Schema    string `json:"schema"`
	Statement string `json:"stmt"`
}

// Encode marshals m in the binary format.
func Encode(m *Message) ([]byte, error) {
	m.V = Version
	return encodeBinary(m)
}

// ErrInvalid marks a message that can never be applied: the applier halts
// its partition rather than skip it.
var ErrInvalid = errors.New("invalid message")

// Decode unmarshals and validates a message. Every error wraps ErrInvalid
// and says which field is wrong.
func Decode(b []byte) (*Message, error) {
	if len(b) > 0 && b[0] == binaryMagic {
		m, err := decodeBinary(b)
		if err == nil {
			err = m.Validate()
		}
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: not a capture message: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks a message is complete and self-consistent.
func (m *Message) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: seq %d from %q: %s", ErrInvalid, m.Seq, m.Source, fmt.Sprintf(format, args...))
	}
	if m.V < 1 || m.V > Version {
		return bad("wire format version %d, this applier reads 1 to %d: upgrade regiond in every region", m.V, Version)
	}
	if m.Source == "" {
		return bad("src is empty")
	}
	switch m.Kind {
	case KindHeartbeat:
		if m.Txn != nil {
			return bad("a heartbeat carries a transaction")
		}
		return nil
	case KindTxn:
		if m.Seq == 0 {
			return bad("seq is 0")
		}
	default:
		return bad("kind %q is neither txn nor hb", m.Kind)
	}
	t := m.Txn
	if t == nil {
		return bad("txn is missing")
	}
	if t.GTID == "" {
		return bad("txn.gtid is empty")
	}
	for p, seq := range t.Deps {
		if p < 0 || seq >= m.Seq {
			return bad("txn.deps[%d] = %d: a transaction depends only on earlier ones (seq below %d) in partitions from 0", p, seq, m.Seq)
		}
	}
	if f := t.Frag; f != nil {
		switch {
		case f.Count < 1 || f.Index < 0 || f.Index >= f.Count:
			return bad("txn.frag %d of %d is out of range", f.Index, f.Count)
		case len(t.Chunk) == 0 || len(t.Rows) > 0 || len(t.Tables) > 0 || t.DDL != nil:
			return bad("txn.frag %d of %d must carry a chunk of the whole transaction and nothing else", f.Index, f.Count)
		}
		return nil
	}
	if len(t.Chunk) > 0 {
		return bad("txn.chunk is set on a transaction that is not a fragment")
	}
	if t.DDL != nil {
		if len(t.Rows) > 0 {
			return bad("txn has both ddl and rows")
		}
		if t.DDL.Statement == "" {
			return bad("txn.ddl.stmt is empty")
		}
		return nil
	}
	for i, tb := range t.Tables {
		if tb.Schema == "" || tb.Name == "" {
			return bad("txn.tables[%d] has no schema or name", i)
		}
		if len(tb.Cols) == 0 || len(tb.Types) != len(tb.Cols) {
			return bad("txn.tables[%d] (%s.%s) has %d columns and %d types", i, tb.Schema, tb.Name, len(tb.Cols), len(tb.Types))
		}
		for _, p := range tb.PK {
			if p < 0 || p >= len(tb.Cols) {
				return bad("txn.tables[%d] pk column %d out of range", i, p)
			}
		}
	}
	for i, r := range t.Rows {
		if r.T < 0 || r.T >= len(t.Tables) {
			return bad("txn.rows[%d].t = %d, but there are %d tables", i, r.T, len(t.Tables))
		}
		n := len(t.Tables[r.T].Cols)
		check := func(name string, img []Value, want bool) error {
			switch {
			case want && len(img) != n:
				return bad("txn.rows[%d].%s has %d values for %d columns", i, name, len(img), n)
			case !want && img != nil:
				return bad("txn.rows[%d] op %q must not have a %s image", i, r.Op, name)
			}
			return nil
		}
		var errs []error
		switch r.Op {
		case Insert:
			errs = append(errs, check("b", r.Before, false), check("a", r.After, true))
		case Update:
			errs = append(errs, check("b", r.Before, true), check("a", r.After, true))
		case Delete:
			errs = append(errs, check("b", r.Before, true), check("a", r.After, false))
		default:
			return bad("txn.rows[%d].op %q is not i, u or d", i, r.Op)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}
