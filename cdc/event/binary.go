package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The binary format (version 2). A message's first byte is binaryMagic
// (version 1 messages are JSON and begin with '{'); then, in order:
//
//	kind, src: string; seq: uvarint; pos: string; ts, sent: time; txn: 0 | 1 txn
//	txn:   gtid: string; bucket: varint; epoch: uvarint; cell: string;
//	       frag: 0 | 1 index count (uvarints); chunk: bytes;
//	       deps: uvarint n, n × (partition varint, seq uvarint), by partition;
//	       tables: uvarint n, n × table; rows: uvarint n, n × row; ddl: 0 | 1 schema stmt
//	table: schema, name: string; cols: uvarint n, n × string; types: bytes;
//	       pk: uvarint n, n × uvarint
//	row:   t: uvarint; op: string; before, after: 0 | 1 image
//	image: uvarint n, n × value
//	value: tag byte, then nothing (null), varint (int), uvarint (uint),
//	       8 bytes little-endian IEEE 754 (float), bytes (string, bytes)
//	time:  0 (zero) | 1 varint Unix nanoseconds (UTC)
//	string, bytes: uvarint length, the bytes
const binaryMagic = 0x02

// Value tags.
const (
	tagNull byte = iota
	tagInt
	tagUint
	tagFloat
	tagString
	tagBytes
)

func encodeBinary(m *Message) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, binaryMagic)
	b = appendString(b, string(m.Kind))
	b = appendString(b, m.Source)
	b = binary.AppendUvarint(b, m.Seq)
	b = appendString(b, m.Pos)
	b = appendTime(b, m.Time)
	b = appendTime(b, m.Sent)
	t := m.Txn
	if t == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendString(b, t.GTID)
	b = binary.AppendVarint(b, int64(t.Bucket))
	b = binary.AppendUvarint(b, t.Epoch)
	b = appendString(b, t.Cell)
	if t.Frag == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(t.Frag.Index))
		b = binary.AppendUvarint(b, uint64(t.Frag.Count))
	}
	b = appendBytes(b, t.Chunk)
	parts := make([]int32, 0, len(t.Deps))
	for p := range t.Deps {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for _, p := range parts {
		b = binary.AppendVarint(b, int64(p))
		b = binary.AppendUvarint(b, t.Deps[p])
	}
	b = binary.AppendUvarint(b, uint64(len(t.Tables)))
	for _, tb := range t.Tables {
		b = appendString(b, tb.Schema)
		b = appendString(b, tb.Name)
		b = binary.AppendUvarint(b, uint64(len(tb.Cols)))
		for _, c := range tb.Cols {
			b = appendString(b, c)
		}
		b = appendBytes(b, tb.Types)
		b = binary.AppendUvarint(b, uint64(len(tb.PK)))
		for _, p := range tb.PK {
			b = binary.AppendUvarint(b, uint64(p))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(t.Rows)))
	var err error
	for _, r := range t.Rows {
		b = binary.AppendUvarint(b, uint64(r.T))
		b = appendString(b, string(r.Op))
		for _, img := range [][]Value{r.Before, r.After} {
			if img == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(img)))
			for _, v := range img {
				if b, err = appendValue(b, v); err != nil {
					return nil, fmt.Errorf("transaction %s: %w", t.GTID, err)
				}
			}
		}
	}
	if t.DDL == nil {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendString(b, t.DDL.Schema)
	return appendString(b, t.DDL.Statement), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, x []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

func appendValue(b []byte, v Value) ([]byte, error) {
	switch x := v.V.(type) {
	case nil:
		return append(b, tagNull), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case uint64:
		return binary.AppendUvarint(append(b, tagUint), x), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("float value %v cannot be replicated", x)
		}
		return binary.LittleEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case string:
		return appendString(append(b, tagString), x), nil
	case []byte:
		return appendBytes(append(b, tagBytes), x), nil
	}
	return nil, fmt.Errorf("value of type %T cannot be replicated", v.V)
}

// errShort is a binary message that ends early or holds a length or count
// longer than what is left.
var errShort = errors.New("truncated")

// reader reads the binary format; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length or count of items of at least one byte each.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) flag() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(errors.New("a presence flag is neither 0 nor 1"))
	return false
}

func (r *reader) time() time.Time {
	if !r.flag() {
		return time.Time{}
	}
	return time.Unix(0, r.varint()).UTC()
}

func (r *reader) value() Value {
	switch tag := r.byte(); tag {
	case tagNull:
		return Value{}
	case tagInt:
		return Value{r.varint()}
	case tagUint:
		return Value{r.uvarint()}
	case tagFloat:
		if len(r.b) < 8 {
			r.fail(errShort)
			return Value{}
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		return Value{f}
	case tagString:
		return Value{r.string()}
	case tagBytes:
		return Value{append([]byte{}, r.bytes()...)}
	default:
		r.fail(fmt.Errorf("value tag %d is unknown", tag))
		return Value{}
	}
}

func (r *reader) image() []Value {
	if !r.flag() {
		return nil
	}
	n := r.count()
	img := make([]Value, 0, n)
	for range n {
		img = append(img, r.value())
	}
	return img
}

// decodeBinary decodes a version 2 message (b[0] is binaryMagic); the
// caller validates it.
func decodeBinary(b []byte) (*Message, error) {
	r := &reader{b: b[1:]}
	m := &Message{V: Version, Kind: Kind(r.string()), Source: r.string(), Seq: r.uvarint(), Pos: r.string(), Time: r.time(), Sent: r.time()}
	if r.flag() {
		t := &Txn{GTID: r.string(), Bucket: int32(r.varint()), Epoch: r.uvarint(), Cell: r.string()}
		if r.flag() {
			t.Frag = &Fragment{Index: int(r.uvarint()), Count: int(r.uvarint())}
		}
		if c := r.bytes(); len(c) > 0 {
			t.Chunk = append([]byte{}, c...)
		}
		if n := r.count(); n > 0 {
			t.Deps = make(map[int32]uint64, n)
			for range n {
				p := r.varint()
				t.Deps[int32(p)] = r.uvarint()
			}
		}
		if n := r.count(); n > 0 {
			t.Tables = make([]Table, n)
			for i := range t.Tables {
				tb := &t.Tables[i]
				tb.Schema, tb.Name = r.string(), r.string()
				tb.Cols = make([]string, r.count())
				for k := range tb.Cols {
					tb.Cols[k] = r.string()
				}
				if ty := r.bytes(); len(ty) > 0 {
					tb.Types = append([]byte{}, ty...)
				}
				if n := r.count(); n > 0 {
					tb.PK = make([]int, n)
					for k := range tb.PK {
						tb.PK[k] = int(r.uvarint())
					}
				}
			}
		}
		if n := r.count(); n > 0 {
			t.Rows = make([]Row, n)
			for i := range t.Rows {
				t.Rows[i] = Row{T: int(r.uvarint()), Op: Op(r.string()), Before: r.image(), After: r.image()}
			}
		}
		if r.flag() {
			t.DDL = &DDL{Schema: r.string(), Statement: r.string()}
		}
		m.Txn = t
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Errorf("%d bytes after the end of the message", len(r.b)))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: not a capture message: binary format: %v", ErrInvalid, r.err)
	}
	return m, nil
}
