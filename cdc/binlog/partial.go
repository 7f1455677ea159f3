package binlog

import (
	"encoding/binary"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/regionplatform/region/cdc/binlog/mysqljson"
)

// completePartialJSON turns the partial JSON values of a MySQL 8
// PARTIAL_UPDATE_ROWS_EVENT (binlog_row_value_options=PARTIAL_JSON: an
// update of a JSON column by JSON_SET, JSON_REPLACE or JSON_REMOVE logs
// only the changes) into whole documents: each after value becomes the
// before value with the logged diffs applied, so the rest of replication
// sees an ordinary update.
//
// go-mysql marks such a value as a *replication.JsonDiff but keeps only
// the first diff of the column's diff vector; a JSON_SET of two paths
// would lose the second. So the diff vectors are read again here from
// the event's row data (data: the rows part, after the event header),
// walking each image column by column, and decoded whole.
func completePartialJSON(e *replication.RowsEvent, data []byte) error {
	if !hasPartialJSON(e) {
		return nil
	}
	name := string(e.Table.Schema) + "." + string(e.Table.Table)
	w := imageWalker{t: e.Table, data: data}
	for row := 0; w.pos < len(data); row += 2 {
		if row+1 >= len(e.Rows) {
			return fmt.Errorf("binlog: partial JSON update of %s: more row data than the %d images go-mysql decoded", name, len(e.Rows))
		}
		if _, err := w.image(e.ColumnBitmap1, false); err != nil {
			return fmt.Errorf("binlog: partial JSON update of %s, row %d before image: %w", name, row/2, err)
		}
		partial, err := w.image(e.ColumnBitmap2, true)
		if err != nil {
			return fmt.Errorf("binlog: partial JSON update of %s, row %d after image: %w", name, row/2, err)
		}
		for col, vec := range partial {
			before, ok := e.Rows[row][col].(string)
			if !ok {
				return fmt.Errorf("binlog: partial JSON update of %s.%s without the document before it (%T): the source must log binlog_row_image=FULL", name, columnName(e.Table, col), e.Rows[row][col])
			}
			diffs, err := mysqljson.DecodeDiffs(vec)
			if err != nil {
				return fmt.Errorf("binlog: partial JSON update of %s.%s: %w", name, columnName(e.Table, col), err)
			}
			after, err := mysqljson.Apply(before, diffs)
			if err != nil {
				return fmt.Errorf("binlog: partial JSON update of %s.%s: %w", name, columnName(e.Table, col), err)
			}
			e.Rows[row+1][col] = after
		}
	}
	if w.pos != len(data) {
		return fmt.Errorf("binlog: partial JSON update of %s: the row images end at byte %d of %d", name, w.pos, len(data))
	}
	return nil
}

// hasPartialJSON reports whether go-mysql decoded a value of e as a
// partial JSON update.
func hasPartialJSON(e *replication.RowsEvent) bool {
	for _, r := range e.Rows {
		for _, v := range r {
			if _, ok := v.(*replication.JsonDiff); ok {
				return true
			}
		}
	}
	return false
}

func columnName(t *replication.TableMapEvent, col int) string {
	if col < len(t.ColumnName) {
		return string(t.ColumnName[col])
	}
	return fmt.Sprintf("column %d", col+1)
}

// imageWalker walks row images of a rows event the way MySQL writes
// them (Rows_log_event's row format, and log_event.cc's field sizes), to
// find where each value lies.
type imageWalker struct {
	t    *replication.TableMapEvent
	data []byte
	pos  int
}

// image walks one image with the columns in bitmap present. For an
// update's after image of a PARTIAL_UPDATE_ROWS_EVENT (after), it reads
// the value options and partial bits first, and returns the diff vector
// of each JSON column logged as partial, by column index.
func (w *imageWalker) image(bitmap []byte, after bool) (map[int][]byte, error) {
	cols := len(w.t.ColumnType)
	var partialBits []byte
	if after {
		if w.pos >= len(w.data) || w.pos+mysqljson.LengthIntSize(w.data[w.pos]) > len(w.data) {
			return nil, fmt.Errorf("value options truncated at byte %d", w.pos)
		}
		opts, _, n := mysql.LengthEncodedInt(w.data[w.pos:])
		w.pos += n
		if opts&1 != 0 { // PARTIAL_JSON_UPDATES
			nb := (int(w.t.JsonColumnCount()) + 7) / 8
			if w.pos+nb > len(w.data) {
				return nil, fmt.Errorf("partial bits truncated at byte %d", w.pos)
			}
			partialBits = w.data[w.pos : w.pos+nb]
			w.pos += nb
		}
	}
	present := 0
	for i := 0; i < cols; i++ {
		if bitSet(bitmap, i) {
			present++
		}
	}
	nb := (present + 7) / 8
	if w.pos+nb > len(w.data) {
		return nil, fmt.Errorf("null bitmap truncated at byte %d", w.pos)
	}
	nulls := w.data[w.pos : w.pos+nb]
	w.pos += nb
	out := map[int][]byte{}
	jsonIndex, nullIndex := 0, 0
	for i := 0; i < cols; i++ {
		tp := w.t.ColumnType[i]
		partial := false
		if tp == mysql.MYSQL_TYPE_JSON {
			partial = partialBits != nil && bitSet(partialBits, jsonIndex)
			jsonIndex++
		}
		if !bitSet(bitmap, i) {
			continue
		}
		isNull := bitSet(nulls, nullIndex)
		nullIndex++
		if isNull {
			continue
		}
		meta := w.t.ColumnMeta[i]
		n, err := fieldSize(tp, meta, w.data[w.pos:])
		if err != nil {
			return nil, fmt.Errorf("%s at byte %d: %w", columnName(w.t, i), w.pos, err)
		}
		if w.pos+n > len(w.data) {
			return nil, fmt.Errorf("%s at byte %d: its %d bytes run past the event's %d", columnName(w.t, i), w.pos, n, len(w.data))
		}
		if partial {
			out[i] = w.data[w.pos+int(meta) : w.pos+n]
		}
		w.pos += n
	}
	return out, nil
}

func bitSet(bitmap []byte, i int) bool {
	return i/8 < len(bitmap) && bitmap[i/8]&(1<<(uint(i)%8)) != 0
}

// fieldSize is the size of a value of binlog type tp with table map
// metadata meta at the start of data, as MySQL's calc_field_size (and
// go-mysql's decoder) reads it.
func fieldSize(tp byte, meta uint16, data []byte) (int, error) {
	length := 0
	if tp == mysql.MYSQL_TYPE_STRING {
		length = int(meta)
		if meta >= 256 { // the real type and length share the metadata
			b0, b1 := byte(meta>>8), byte(meta)
			if b0&0x30 != 0x30 {
				length = int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
				tp = b0 | 0x30
			} else {
				length = int(b1)
				tp = b0
			}
		}
	}
	need := func(n int) (int, error) {
		if len(data) < n {
			return 0, fmt.Errorf("needs %d bytes, %d left", n, len(data))
		}
		return n, nil
	}
	switch tp {
	case mysql.MYSQL_TYPE_NULL:
		return 0, nil
	case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_YEAR:
		return 1, nil
	case mysql.MYSQL_TYPE_SHORT:
		return 2, nil
	case mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE, mysql.MYSQL_TYPE_TIME:
		return 3, nil
	case mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_FLOAT, mysql.MYSQL_TYPE_TIMESTAMP:
		return 4, nil
	case mysql.MYSQL_TYPE_LONGLONG, mysql.MYSQL_TYPE_DOUBLE, mysql.MYSQL_TYPE_DATETIME:
		return 8, nil
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		return 4 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_DATETIME2:
		return 5 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_TIME2:
		return 3 + (int(meta)+1)/2, nil
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return decimalSize(int(meta>>8), int(meta&0xff)), nil
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		return (nbits + 7) / 8, nil
	case mysql.MYSQL_TYPE_ENUM, mysql.MYSQL_TYPE_SET:
		return int(meta & 0xff), nil
	case mysql.MYSQL_TYPE_BLOB, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_JSON, mysql.MYSQL_TYPE_VECTOR:
		if meta < 1 || meta > 4 {
			return 0, fmt.Errorf("blob length size %d is not 1-4", meta)
		}
		if _, err := need(int(meta)); err != nil {
			return 0, err
		}
		return need(int(meta) + int(mysql.FixedLengthInt(data[:meta])))
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return stringSize(int(meta), data)
	case mysql.MYSQL_TYPE_STRING:
		return stringSize(length, data)
	}
	return 0, fmt.Errorf("binlog type %d has no known size", tp)
}

// stringSize is the size of a string value whose column holds up to max
// bytes: a one- or two-byte length, then the bytes.
func stringSize(max int, data []byte) (int, error) {
	if max < 256 {
		if len(data) < 1 {
			return 0, fmt.Errorf("string length truncated")
		}
		return 1 + int(data[0]), nil
	}
	if len(data) < 2 {
		return 0, fmt.Errorf("string length truncated")
	}
	return 2 + int(binary.LittleEndian.Uint16(data)), nil
}

// decimalSize is the size of MySQL's binary DECIMAL(precision, scale):
// four bytes per nine digits, and fewer for the rest on each side.
func decimalSize(precision, scale int) int {
	rest := [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}
	intg := max(precision-scale, 0)
	return intg/9*4 + rest[intg%9] + scale/9*4 + rest[scale%9]
}
