package binlogtest

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/go-mysql-org/go-mysql/replication"
)

// GTID is the content of a GTID event, classic (GTID_LOG_EVENT) or
// tagged (GTID_TAGGED_LOG_EVENT).
type GTID struct {
	Flags                         uint8
	SID                           [16]byte
	GNO                           int64
	Tag                           string // tagged events only
	LastCommitted, SequenceNumber int64
	// The original values are written only when they differ from the
	// immediate ones, the ticket only when it is not 0 (and only in a
	// tagged event).
	ImmediateCommitTimestamp, OriginalCommitTimestamp uint64 // microseconds
	TransactionLength                                 uint64
	ImmediateServerVersion, OriginalServerVersion     uint32
	CommitGroupTicket                                 uint64
}

// GTID is a classic GTID_LOG_EVENT of g (control_events.h, Gtid_event,
// "Binary Format", and the layout in control_events.cpp): flags 1, SID
// 16, GNO 8, logical timestamp type code 1 (= 2), last_committed 8,
// sequence_number 8, immediate_commit_timestamp 7 (bit 55 set when
// original_commit_timestamp, 7 more bytes, follows), transaction_length
// (packed integer), immediate_server_version 4 (bit 31 set when
// original_server_version, 4 more bytes, follows). A classic event has
// no tag: g.Tag must be empty.
func (w *Writer) GTID(g GTID) []byte {
	return w.Event(replication.GTID_EVENT, g.classic())
}

func (g GTID) classic() []byte {
	if g.Tag != "" {
		panic(fmt.Sprintf("binlogtest: a classic GTID event has no tag (%q): use TaggedGTID", g.Tag))
	}
	b := []byte{g.Flags}
	b = append(b, g.SID[:]...)
	b = append(b, fixlen(uint64(g.GNO), 8)...)
	b = append(b, 2)
	b = append(b, fixlen(uint64(g.LastCommitted), 8)...)
	b = append(b, fixlen(uint64(g.SequenceNumber), 8)...)
	if g.OriginalCommitTimestamp != g.ImmediateCommitTimestamp {
		b = append(b, fixlen(g.ImmediateCommitTimestamp|1<<55, 7)...)
		b = append(b, fixlen(g.OriginalCommitTimestamp, 7)...)
	} else {
		b = append(b, fixlen(g.ImmediateCommitTimestamp, 7)...)
	}
	b = append(b, LengthInt(g.TransactionLength)...)
	if g.OriginalServerVersion != g.ImmediateServerVersion {
		b = append(b, fixlen(uint64(g.ImmediateServerVersion)|1<<31, 4)...)
		b = append(b, fixlen(uint64(g.OriginalServerVersion), 4)...)
	} else {
		b = append(b, fixlen(uint64(g.ImmediateServerVersion), 4)...)
	}
	return b
}

// TaggedGTID is a GTID_TAGGED_LOG_EVENT of g: its body is g.Message().
// The post-header of GTID_TAGGED_LOG_EVENT is empty (0 in the format
// description): the message follows the common header
// (control_events.cpp, Gtid_event::Gtid_event).
func (w *Writer) TaggedGTID(g GTID) []byte {
	return w.Event(replication.GTID_TAGGED_LOG_EVENT, g.Message())
}

// Message is the body of g's GTID_TAGGED_LOG_EVENT: the message
// Gtid_event::define_fields describes (control_events.h), in its order,
// the field ids counting from 0: gtid_flags (unsigned char), uuid (the
// 16 bytes of an array: an array's elements are written with the
// default size 0, varlen, one by one: serializer_default_impl.hpp,
// Serializer_array_tag), gno (int64), tag (string of at most 32),
// last_committed, sequence_number (int64), immediate_commit_timestamp
// (uint64), original_commit_timestamp (optional), transaction_length
// (uint64), immediate_server_version (uint32), original_server_version
// (optional), commit_group_ticket (uint64, optional).
func (g GTID) Message() []byte {
	var sid []byte
	for _, b := range g.SID {
		sid = append(sid, varlenUint(uint64(b))...)
	}
	fields := []serField{
		{0, varlenUint(uint64(g.Flags))},
		{1, sid},
		{2, varlenInt(g.GNO)},
		{3, serString(g.Tag)},
		{4, varlenInt(g.LastCommitted)},
		{5, varlenInt(g.SequenceNumber)},
		{6, varlenUint(g.ImmediateCommitTimestamp)},
	}
	if g.OriginalCommitTimestamp != g.ImmediateCommitTimestamp {
		fields = append(fields, serField{7, varlenUint(g.OriginalCommitTimestamp)})
	}
	fields = append(fields, serField{8, varlenUint(g.TransactionLength)}, serField{9, varlenUint(uint64(g.ImmediateServerVersion))})
	if g.OriginalServerVersion != g.ImmediateServerVersion {
		fields = append(fields, serField{10, varlenUint(uint64(g.OriginalServerVersion))})
	}
	if g.CommitGroupTicket != 0 {
		fields = append(fields, serField{11, varlenUint(g.CommitGroupTicket)})
	}
	return serMessage(fields...)
}

// Transaction is one transaction as the server writes it: the GTID
// event of g (GTID_TAGGED_LOG_EVENT when g.Tag is set, else
// GTID_LOG_EVENT), then the events rest writes with w (e.g. with
// binlog_format=ROW: a BEGIN query, table maps, rows events and the XID
// event). The GTID event's transaction_length counts the whole
// transaction, itself included (control_events.cpp,
// update_tagged_transaction_length: found by iterating to a fixpoint,
// as the field's size depends on its value); Transaction sets it,
// whatever g.TransactionLength says. rest is called twice, first on a
// copy of w to measure the events, so it must write the same events
// each time.
func (w *Writer) Transaction(g GTID, rest func(w *Writer) [][]byte) [][]byte {
	body, typ := GTID.classic, replication.GTID_EVENT
	if g.Tag != "" {
		body, typ = GTID.Message, replication.GTID_TAGGED_LOG_EVENT
	}
	probe := *w // the events' sizes, not their positions
	var restLen uint64
	for _, ev := range rest(&probe) {
		restLen += uint64(len(ev))
	}
	g.TransactionLength = 0
	for g.TransactionLength != restLen+w.eventSize(body(g)) {
		g.TransactionLength = restLen + w.eventSize(body(g))
	}
	return append([][]byte{w.Event(typ, body(g))}, rest(w)...)
}

// ---- mysql::serialization, the format of GTID_TAGGED_LOG_EVENT ----
//
// Sources: libs/mysql/serialization/readme.md ("Message format
// specification", "Variable-length integers"), and where the readme is
// silent the library's own definitions: variable_length_integers.h,
// primitive_type_codec.{h,cpp}, serializer_default_impl.hpp,
// serializer_impl.hpp, serialization_format_version.h,
// field_definition{,_helpers}.h.

// varlenUint encodes an unsigned integer in varlen_integer_format
// (readme.md, "Variable-length integers"): 1 to 9 bytes, little-endian;
// the count of trailing one bits of the first byte, plus one, is the
// byte count. A value of at most 56 bits uses the fewest bytes n whose
// 7n value bits hold it: the n-1 one bits, a zero bit, then the value
// (the readme's example: 65535 is the 3 bytes "00000111 11111111
// 11111011" written most significant first). A value of 57 to 64 bits
// takes 9 bytes: a first byte of eight ones, then the full value in 8
// bytes.
func varlenUint(v uint64) []byte {
	if bits.Len64(v) > 56 {
		return binary.LittleEndian.AppendUint64([]byte{0xff}, v)
	}
	n := 1
	for n < 8 && bits.Len64(v) > 7*n {
		n++
	}
	enc := v<<n | (1<<(n-1) - 1)
	return binary.LittleEndian.AppendUint64(nil, enc)[:n]
}

// varlenInt encodes a signed integer (readme.md, "Variable-length
// integers", signed integers): x >= 0 as x<<1, x < 0 as (-(x+1))<<1 | 1,
// then as an unsigned varlen integer.
func varlenInt(x int64) []byte {
	if x >= 0 {
		return varlenUint(uint64(x) << 1)
	}
	return varlenUint(uint64(-(x+1))<<1 | 1)
}

// fixlen is fixlen_integer_format (readme.md; primitive_type_codec.cpp:
// a field defined with a byte size N is stored with int2store ...
// int8store, N bytes little-endian). No field of the GTID event uses it:
// Gtid_event::define_fields (control_events.h) defines every integer
// with define_field, size 0, the varlen format. It is the binlog's own
// fixed-size integer layout too, so the events' headers and bodies
// (events.go) are written with it.
func fixlen(v uint64, n int) []byte {
	return binary.LittleEndian.AppendUint64(nil, v)[:n]
}

// serString is string_format (readme.md: string_length, then the
// characters; primitive_type_codec.h writes the length as a varlen
// integer).
func serString(s string) []byte {
	return append(varlenUint(uint64(len(s))), s...)
}

// serField is one type_field of a message: the field id (a varlen
// integer: serializer_default_impl.hpp, encode_field_id), then its data.
type serField struct {
	id   uint64
	data []byte
}

// serMessage is a top-level message (readme.md, message_field and
// message_format), as Serializer::operator<< writes it
// (serializer_impl.hpp, serializer_default_impl.hpp
// encode_serializable_metadata): the serialization format version
// (serialization_format_version.h: 1), the serializable size, the last
// non-ignorable field id, all three varlen integers, then the fields
// present in id order. The size counts the whole message, the version
// and size fields included (get_size_serializable adds their sizes to
// the fields'). The last non-ignorable field id is 0 when every field
// is ignorable (readme.md), as every field of the GTID event is:
// define_field's default Unknown_field_policy is ignore
// (field_definition.h).
func serMessage(fields ...serField) []byte {
	var body []byte
	for _, f := range fields {
		body = append(body, varlenUint(f.id)...)
		body = append(body, f.data...)
	}
	version, lastNonIgnorable := varlenUint(1), varlenUint(0)
	size := uint64(len(version) + 1 + len(lastNonIgnorable) + len(body))
	for {
		// The size field's own length is part of the size.
		next := uint64(len(version) + len(varlenUint(size)) + len(lastNonIgnorable) + len(body))
		if next == size {
			break
		}
		size = next
	}
	msg := append(version, varlenUint(size)...)
	msg = append(msg, lastNonIgnorable...)
	return append(msg, body...)
}
