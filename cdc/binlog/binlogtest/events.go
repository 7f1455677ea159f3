// Package binlogtest builds MySQL 8 binlog events by hand, to the format
// MySQL documents (mysql-server, libs/mysql/binlog/event: binlog_event.h,
// control_events.h, statement_events.h, rows_event.h; the tagged GTID
// event's mysql::serialization format: libs/mysql/serialization, see
// gtid.go), for tests of what no server in the project's tests writes:
// no MySQL 8 runs here, only MariaDB. A test parses the bytes with
// go-mysql's parser and feeds the events to the capture's assembler.
//
// The bytes follow MySQL's documentation, never go-mysql's decoder:
// bytes made to fit the decoder under test would only show that the two
// agree with each other.
package binlogtest

import (
	"hash/crc32"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// HeaderSize is the size of every event's common header.
const HeaderSize = 19

// Writer lays out events as a MySQL 8.4 binlog does. Every event starts
// with the 19-byte common header (binlog_event.h, Log_event_header:
// timestamp 4, type 1, server id 4, event size 4, log_pos 4, flags 2,
// little-endian); log_pos is the offset of the next event, the first at
// 4, after the file's magic number. The zero Writer is server id 0,
// timestamp 0, checksums off.
type Writer struct {
	ServerID  uint32
	Timestamp uint32
	// CRC32: binlog_checksum=CRC32, every event ends with the CRC32 of
	// its other bytes (4 bytes, included in the event size). With
	// checksums off the format description still carries one
	// (binlog_event.cpp, event_checksum_test: algorithm 0 means "the
	// binlog file is checksum-free *except* the FD-event";
	// get_checksum_alg reads the algorithm byte at 5 bytes from the
	// event's end).
	CRC32 bool
	pos   uint32
}

// Event wraps body in the common header (and, when checksums are on or
// the event is the format description, the CRC32 after it), and
// advances the writer's position past it.
func (w *Writer) Event(typ replication.EventType, body []byte) []byte {
	if w.pos == 0 {
		w.pos = 4
	}
	withCRC := w.CRC32 || typ == replication.FORMAT_DESCRIPTION_EVENT
	size := HeaderSize + len(body)
	if withCRC {
		size += 4
	}
	w.pos += uint32(size)
	ev := fixlen(uint64(w.Timestamp), 4)
	ev = append(ev, byte(typ))
	ev = append(ev, fixlen(uint64(w.ServerID), 4)...)
	ev = append(ev, fixlen(uint64(size), 4)...)
	ev = append(ev, fixlen(uint64(w.pos), 4)...)
	ev = append(ev, fixlen(0, 2)...) // flags
	ev = append(ev, body...)
	if withCRC {
		ev = append(ev, fixlen(uint64(crc32.ChecksumIEEE(ev)), 4)...)
	}
	return ev
}

// eventSize is the size of an event of body as w writes it (not a
// format description).
func (w *Writer) eventSize(body []byte) uint64 {
	if w.CRC32 {
		return uint64(HeaderSize + len(body) + 4)
	}
	return uint64(HeaderSize + len(body))
}

// postHeaderLengths is what MySQL 8.4's Format_description_event writes
// for event types 1 to 42 (LOG_EVENT_TYPES = ENUM_END_EVENT - 1:
// binlog_event.h; the list: control_events.cpp, the
// Format_description_event constructor for binlog version 4; the
// lengths: binlog_event.h, enum_post_header_length, and
// Gtid_event::POST_HEADER_LENGTH = 1+16+8+1+16 = 42 in control_events.h).
var postHeaderLengths = [42]byte{
	0, 13, 0, 8, 0, 0, 0, 0, 4, 0, // 1-10: 2 query, 4 rotate, 9 append block
	4, 0, 0, 0, 99, 0, 4, 26, 8, 0, // 11-20: 11 delete file, 15 format description (56+1+42), 17-18 load query, 19 table map
	0, 0, 0, 0, 0, 2, 0, 0, 0, 10, // 21-30: 23-25 rows v1 (unused since 8.4.0), 26 incident, 30 write rows
	10, 10, 42, 42, 0, 18, 52, 0, 10, 40, // 31-40: 33-34 gtid, 36 transaction context, 37 view change, 39 partial update, 40 payload (sic: the constructor lists TRANSACTION_PAYLOAD_EVENT, the type's number)
	0, 0, // 41 heartbeat v2, 42 tagged gtid
}

// FormatDescription is a FORMAT_DESCRIPTION_EVENT (control_events.h,
// Format_description_event: binlog_version 2 = 4, server_version 50
// bytes padded with zeros, create_timestamp 4, common_header_len 1 = 19,
// post_header_len, one byte per event type), then the checksum
// algorithm byte (binlog_event.h: 0 off, 1 CRC32; the format
// description reader expects it after the lengths of a server from
// 5.6.1 on: control_events.cpp) and the checksum, which Event writes
// whether checksums are on or not. The post-header lengths are MySQL
// 8.4's (postHeaderLengths) whatever serverVersion (e.g. "8.0.36",
// "8.4.3") says: go-mysql takes the lengths from the event.
func (w *Writer) FormatDescription(serverVersion string) []byte {
	body := fixlen(4, 2)
	var v [50]byte
	copy(v[:], serverVersion)
	body = append(body, v[:]...)
	body = append(body, fixlen(uint64(w.Timestamp), 4)...)
	body = append(body, HeaderSize)
	body = append(body, postHeaderLengths[:]...)
	alg := replication.BINLOG_CHECKSUM_ALG_OFF // 0
	if w.CRC32 {
		alg = replication.BINLOG_CHECKSUM_ALG_CRC32 // 1
	}
	body = append(body, byte(alg))
	return w.Event(replication.FORMAT_DESCRIPTION_EVENT, body)
}

// Query is a QUERY_EVENT of stmt in schema (statement_events.h,
// Query_event; binlog_event.h: QUERY_HEADER_LEN = 4+4+1+2 + 2):
// post-header thread id 4 (1), execution time 4, schema length 1, error
// code 2, status variables length 2; then the status variables (none
// here), the schema and a 0 byte, and the statement.
func (w *Writer) Query(schema, stmt string) []byte {
	b := fixlen(1, 4)
	b = append(b, fixlen(0, 4)...)
	b = append(b, byte(len(schema)))
	b = append(b, fixlen(0, 2)...)
	b = append(b, fixlen(0, 2)...)
	b = append(b, schema...)
	b = append(b, 0)
	return w.Event(replication.QUERY_EVENT, append(b, stmt...))
}

// XID is the XID_EVENT that commits a transaction (control_events.h,
// Xid_event: the 8-byte transaction number).
func (w *Writer) XID(xid uint64) []byte {
	return w.Event(replication.XID_EVENT, fixlen(xid, 8))
}

// Column is a column of a table map: its binlog type, its metadata as
// the table map stores it (e.g. a VARCHAR's two-byte maximum length in
// bytes, a JSON column's one-byte length size 4), its name, whether it
// may be NULL and, for a numeric column, whether it is UNSIGNED.
type Column struct {
	Type     byte
	Meta     []byte
	Name     string
	Nullable bool
	Unsigned bool
}

// Table is what a TABLE_MAP_EVENT maps: the table id, schema.name and
// its columns, and which of the optional metadata fields
// (rows_event.h, Table_map_event::Optional_metadata_field_type) follow
// the columns, as binlog_row_metadata=MINIMAL (signedness, default
// charset) or FULL (also the names and the primary key) writes them.
type Table struct {
	ID           uint64
	Schema, Name string
	Columns      []Column
	// Signedness writes SIGNEDNESS (1): one bit per numeric column
	// (MySQL's is_numeric_type, log_event.cc: TINY, SHORT, INT24, LONG,
	// LONGLONG, NEWDECIMAL, FLOAT, DOUBLE), most significant bit first,
	// set when the column is unsigned; nothing when no column is
	// numeric.
	Signedness bool
	// DefaultCollation, when not 0, writes DEFAULT_CHARSET (2): the
	// collation of every character column (e.g. 255,
	// utf8mb4_0900_ai_ci), no per-column exceptions.
	DefaultCollation uint64
	// ColumnNames writes COLUMN_NAME (4): each column's name, length
	// first.
	ColumnNames bool
	// PrimaryKey, when set, writes SIMPLE_PRIMARY_KEY (8): the key's
	// column indexes.
	PrimaryKey []int
}

// TableMap is the TABLE_MAP_EVENT of t (rows_event.h, Table_map_event,
// "Binary Format"; rows_event.cpp reads the optional metadata's lengths
// as packed integers): post-header table id 6, flags 2
// (TM_BIT_LEN_EXACT_F, which MySQL's Table_map_log_event always sets);
// body: schema and table names (length 1, name, 0), column count, column
// types, the metadata block (its length, then each column's metadata),
// the nullability bits, then the optional metadata as type, length,
// value.
func (w *Writer) TableMap(t Table) []byte {
	b := fixlen(t.ID, 6)
	b = append(b, fixlen(1, 2)...) // TM_BIT_LEN_EXACT_F
	for _, name := range []string{t.Schema, t.Name} {
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = append(b, 0)
	}
	b = append(b, LengthInt(uint64(len(t.Columns)))...)
	var meta []byte
	for _, c := range t.Columns {
		b = append(b, c.Type)
		meta = append(meta, c.Meta...)
	}
	b = append(b, LengthInt(uint64(len(meta)))...)
	b = append(b, meta...)
	nullable := make([]byte, (len(t.Columns)+7)/8)
	for i, c := range t.Columns {
		if c.Nullable {
			nullable[i/8] |= 1 << (i % 8)
		}
	}
	b = append(b, nullable...)
	opt := func(typ byte, v []byte) {
		b = append(b, typ)
		b = append(b, LengthInt(uint64(len(v)))...)
		b = append(b, v...)
	}
	if t.Signedness {
		var bits []byte
		n := 0
		for _, c := range t.Columns {
			if !isNumeric(c.Type) {
				continue
			}
			if n%8 == 0 {
				bits = append(bits, 0)
			}
			if c.Unsigned {
				bits[n/8] |= 0x80 >> (n % 8)
			}
			n++
		}
		if n > 0 {
			opt(1, bits)
		}
	}
	if t.DefaultCollation != 0 {
		opt(2, LengthInt(t.DefaultCollation))
	}
	if t.ColumnNames {
		var names []byte
		for _, c := range t.Columns {
			names = append(names, LengthInt(uint64(len(c.Name)))...)
			names = append(names, c.Name...)
		}
		opt(4, names)
	}
	if len(t.PrimaryKey) > 0 {
		var keys []byte
		for _, p := range t.PrimaryKey {
			keys = append(keys, LengthInt(uint64(p))...)
		}
		opt(8, keys)
	}
	return w.Event(replication.TABLE_MAP_EVENT, b)
}

// isNumeric is MySQL's is_numeric_type (log_event.cc), the columns
// SIGNEDNESS has a bit for. (go-mysql's IsNumericColumn also counts
// DECIMAL and YEAR.)
func isNumeric(typ byte) bool {
	switch typ {
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24,
		mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_NEWDECIMAL,
		mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_DOUBLE:
		return true
	}
	return false
}

// Rows is a version 2 rows event (WRITE_ROWS_EVENTv2, UPDATE_ROWS_EVENTv2,
// DELETE_ROWS_EVENTv2 or PARTIAL_UPDATE_ROWS_EVENT) of table id with
// ncols columns (rows_event.h, Rows_event, "Binary Format"; ROWS_*_OFFSET
// and rows_event.cpp for the version 2 post-header): table id 6, flags 2
// (STMT_END_F 1: the event ends its statement), extra row info length 2
// (it counts itself: 2 = none); body: column count, the bitmap of the
// columns present (all of them), for an update the after image's bitmap
// too, then images already encoded (Image, AfterImage), before and after
// alternating for updates.
func (w *Writer) Rows(typ replication.EventType, id uint64, ncols int, images ...[]byte) []byte {
	b := fixlen(id, 6)
	b = append(b, fixlen(1, 2)...) // STMT_END_F
	b = append(b, fixlen(2, 2)...) // extra row info: none
	b = append(b, LengthInt(uint64(ncols))...)
	all := make([]byte, (ncols+7)/8)
	for i := range ncols {
		all[i/8] |= 1 << (i % 8)
	}
	b = append(b, all...)
	if typ == replication.UPDATE_ROWS_EVENTv2 || typ == replication.PARTIAL_UPDATE_ROWS_EVENT {
		b = append(b, all...)
	}
	for _, img := range images {
		b = append(b, img...)
	}
	return w.Event(typ, b)
}

// Image is a row image of every column, values already encoded by
// column type (Int32, VarChar, JSON); nil is NULL: the NULL bitmap, then
// the values that are not NULL.
func Image(values ...[]byte) []byte {
	nulls := make([]byte, (len(values)+7)/8)
	var data []byte
	for i, v := range values {
		if v == nil {
			nulls[i/8] |= 1 << (i % 8)
			continue
		}
		data = append(data, v...)
	}
	return append(nulls, data...)
}

// AfterImage is the after image of a PARTIAL_UPDATE_ROWS_EVENT: the
// value options (PARTIAL_JSON_UPDATES, a packed integer: log_event.cc,
// print_verbose_one_row, reads it with net_field_length), one partial
// bit per JSON column
// of the table (partial[i]: the table's i-th JSON column is logged as a
// diff vector, JSONDiff), then Image(values...).
func AfterImage(partial []bool, values ...[]byte) []byte {
	out := LengthInt(1) // binlog_row_value_options: PARTIAL_JSON_UPDATES
	bits := make([]byte, (len(partial)+7)/8)
	for i, p := range partial {
		if p {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	out = append(out, bits...)
	return append(out, Image(values...)...)
}

// Int32 is an INT value: 4 bytes little-endian.
func Int32(v int32) []byte { return fixlen(uint64(uint32(v)), 4) }

// VarChar is a VARCHAR value of a column of at most 255 bytes: a 1-byte
// length and the bytes.
func VarChar(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// JSON is a JSON column's value: a four-byte length, then b (binary
// JSON, or for a partial update a diff vector).
func JSON(b []byte) []byte {
	return append(fixlen(uint64(len(b)), 4), b...)
}

// JSONDiff is one diff of a partial JSON update as MySQL's
// Json_diff::write_binary writes it: the operation (0 replace, 1
// insert, 2 remove), the path's length and text, and unless it removes,
// the value's length and binary JSON.
func JSONDiff(op byte, path string, value []byte) []byte {
	out := append([]byte{op}, LengthInt(uint64(len(path)))...)
	out = append(out, path...)
	if op == 2 {
		return out
	}
	out = append(out, LengthInt(uint64(len(value)))...)
	return append(out, value...)
}

// LengthInt is a packed integer (binlog_event.h, "Format of Packed
// Integer"; net_field_length): < 251 in one byte, else 252 + 2 bytes,
// 253 + 3, 254 + 8.
func LengthInt(v uint64) []byte {
	switch {
	case v < 251:
		return []byte{byte(v)}
	case v < 1<<16:
		return append([]byte{252}, fixlen(v, 2)...)
	case v < 1<<24:
		return append([]byte{253}, fixlen(v, 3)...)
	}
	return append([]byte{254}, fixlen(v, 8)...)
}
