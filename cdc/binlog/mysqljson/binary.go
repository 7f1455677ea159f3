package mysqljson

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The type bytes of binary JSON values (mysql-server's
// sql-common/json_binary.h).
const (
	typeSmallObject = 0x00
	typeLargeObject = 0x01
	typeSmallArray  = 0x02
	typeLargeArray  = 0x03
	typeLiteral     = 0x04
	typeInt16       = 0x05
	typeUint16      = 0x06
	typeInt32       = 0x07
	typeUint32      = 0x08
	typeInt64       = 0x09
	typeUint64      = 0x0a
	typeDouble      = 0x0b
	typeString      = 0x0c
	typeOpaque      = 0x0f
)

// The values of a literal.
const (
	literalNull  = 0x00
	literalTrue  = 0x01
	literalFalse = 0x02
)

// The MySQL field types of the opaque values Decode prints as MySQL
// does; it prints others as base64.
const (
	fieldTimestamp = 7   // MYSQL_TYPE_TIMESTAMP
	fieldDate      = 10  // MYSQL_TYPE_DATE
	fieldTime      = 11  // MYSQL_TYPE_TIME
	fieldDatetime  = 12  // MYSQL_TYPE_DATETIME
	fieldDecimal   = 246 // MYSQL_TYPE_NEWDECIMAL
)

// maxDepth bounds how deeply Decode follows nested arrays and objects
// (and so the stack a corrupt document can take) and Encode nests them.
// MySQL stores no document nested deeper than 100.
const maxDepth = 1000

// Decode returns the JSON text of b, a binary JSON document as MySQL 8
// stores it in a JSON column and logs it in row events.
//
// The text is byte for byte what go-mysql's row event decoder gives the
// same bytes when it renders MySQL's text (the parser's
// SetRenderJSONAsMySQLText, BinlogSyncerConfig.RenderJSONAsMySQLText),
// but for two kinds of value where that text is not MySQL's (marked *):
//
//   - compact, with no space after ',' or ':'; object members in their
//     stored order (keys by length, then bytes);
//   - integers in decimal; doubles with a fraction in Go's shortest 'g'
//     form (1.5, 1.5e-05, 1.2345675e+06), whole doubles in full 'f'
//     form with ".0" (1.0, -0.0, 1e300 in all its 301 digits), NaN and
//     infinities (which MySQL never stores) as null;
//   - strings with '"', '\\' and bytes below 0x20 escaped as MySQL
//     escapes them (\b \f \n \r \t, else \u00xx), '<', '>', '&', U+2028
//     and U+2029 as \u003c \u003e \u0026 \u2028 \u2029, and other bytes as
//     they are, valid UTF-8 or not;
//   - DECIMAL values as numbers with their scale's digits (1.50);
//   - DATE, TIME, DATETIME and TIMESTAMP values as strings, the last
//     three with six fractional digits ("2024-01-02", "12:34:56.000000",
//     "2024-01-02 03:04:05.000000"), *a zero TIME or DATETIME too, as
//     MySQL writes them: "00:00:00.000000" and "0000-00-00
//     00:00:00.000000", where go-mysql writes "00:00:00" and
//     "0000-00-00 00:00:00";
//   - values of other MySQL types (BIT, BLOB, GEOMETRY...) as the string
//     "base64:typeN:" and their bytes in base64, N the type's number,
//     *broken by a newline (\n) after every 76 characters as MySQL breaks
//     them, where go-mysql does not break them.
//
// An empty b is an error: MySQL reads an empty JSON column value as
// null, and so must the caller. Bytes after the document are ignored.
// Errors name what is wrong and where, as an offset into b.
func Decode(b []byte) (string, error) {
	if len(b) == 0 {
		return "", errors.New("mysqljson: empty document")
	}
	// No document MySQL writes has text 64 times its size; a corrupt one
	// could, by pointing many entries at the same bytes.
	d := decoder{limit: 64*len(b) + 64}
	if err := d.value(b[0], b[1:], 1, 0); err != nil {
		return "", err
	}
	return string(d.out), nil
}

// A decoder appends the text of a document's values to out.
type decoder struct {
	out   []byte
	limit int // most bytes out may hold
}

// value appends the text of the value of type typ whose bytes begin
// data, at offset at of the document, nested in depth arrays or objects.
func (d *decoder) value(typ byte, data []byte, at, depth int) error {
	if len(d.out) > d.limit {
		return fmt.Errorf("mysqljson: %s at offset %d: the text passes %d bytes, so entries share values", typeName(typ), at, d.limit)
	}
	switch typ {
	case typeSmallObject, typeLargeObject, typeSmallArray, typeLargeArray:
		return d.container(typ, data, at, depth+1)
	case typeString:
		l, n, err := varLength(data)
		if err != nil {
			return fmt.Errorf("mysqljson: string at offset %d: %w", at, err)
		}
		if l > len(data)-n {
			return fmt.Errorf("mysqljson: string at offset %d: %d bytes beyond the %d left", at, l, len(data)-n)
		}
		d.out = appendString(d.out, data[n:n+l])
		return nil
	case typeOpaque:
		return d.opaque(data, at)
	}
	size := scalarSize(typ)
	if size == 0 {
		return fmt.Errorf("mysqljson: value at offset %d: unknown type %#x", at, typ)
	}
	if len(data) < size {
		return fmt.Errorf("mysqljson: %s at offset %d: %d bytes left, it needs %d", typeName(typ), at, len(data), size)
	}
	switch typ {
	case typeLiteral:
		switch data[0] {
		case literalNull:
			d.out = append(d.out, "null"...)
		case literalTrue:
			d.out = append(d.out, "true"...)
		case literalFalse:
			d.out = append(d.out, "false"...)
		default:
			return fmt.Errorf("mysqljson: literal at offset %d: %#x is not null (0), true (1) or false (2)", at, data[0])
		}
	case typeInt16:
		d.out = strconv.AppendInt(d.out, int64(int16(binary.LittleEndian.Uint16(data))), 10)
	case typeUint16:
		d.out = strconv.AppendUint(d.out, uint64(binary.LittleEndian.Uint16(data)), 10)
	case typeInt32:
		d.out = strconv.AppendInt(d.out, int64(int32(binary.LittleEndian.Uint32(data))), 10)
	case typeUint32:
		d.out = strconv.AppendUint(d.out, uint64(binary.LittleEndian.Uint32(data)), 10)
	case typeInt64:
		d.out = strconv.AppendInt(d.out, int64(binary.LittleEndian.Uint64(data)), 10)
	case typeUint64:
		d.out = strconv.AppendUint(d.out, binary.LittleEndian.Uint64(data), 10)
	case typeDouble:
		d.out = appendDouble(d.out, math.Float64frombits(binary.LittleEndian.Uint64(data)))
	}
	return nil
}

// container appends the text of an array or object.
func (d *decoder) container(typ byte, data []byte, at, depth int) error {
	object := typ == typeSmallObject || typ == typeLargeObject
	large := typ == typeLargeObject || typ == typeLargeArray
	errorf := func(format string, a ...any) error {
		return fmt.Errorf("mysqljson: %s at offset %d: "+format, append([]any{typeName(typ), at}, a...)...)
	}
	if depth > maxDepth {
		return errorf("nested in more than %d arrays and objects", maxDepth)
	}
	w := 2 // the size of a count, size or offset
	if large {
		w = 4
	}
	if len(data) < 2*w {
		return errorf("%d bytes left, its count and size need %d", len(data), 2*w)
	}
	count, size := offset(data, w), offset(data[w:], w)
	if size > len(data) {
		return errorf("size %d beyond the %d bytes left", size, len(data))
	}
	if size < 2*w {
		return errorf("size %d smaller than its count and size", size)
	}
	data = data[:size]
	keyEntry, valueEntry := w+2, w+1
	entry := valueEntry
	if object {
		entry += keyEntry
	}
	if uint64(count) > uint64(size-2*w)/uint64(entry) {
		return errorf("%d entries of %d bytes beyond the value's %d bytes", count, entry, size)
	}
	header := 2*w + count*entry
	values := 2 * w
	brackets := "[]"
	if object {
		values += count * keyEntry
		brackets = "{}"
	}
	d.out = append(d.out, brackets[0])
	for i := range count {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		if object {
			e := 2*w + i*keyEntry
			ko, kl := offset(data[e:], w), int(binary.LittleEndian.Uint16(data[e+w:]))
			if ko < header {
				return errorf("key %d offset %d inside the %d-byte header", i, ko, header)
			}
			if ko > size-kl {
				return errorf("key %d offset %d beyond the value's %d bytes (the key has %d)", i, ko, size, kl)
			}
			d.out = appendString(d.out, data[ko:ko+kl])
			d.out = append(d.out, ':')
		}
		e := values + i*valueEntry
		t := data[e]
		if inlined(t, large) {
			if err := d.value(t, data[e+1:e+valueEntry], at+e+1, depth); err != nil {
				return err
			}
			continue
		}
		vo := offset(data[e+1:], w)
		if vo < header || vo >= size {
			return errorf("value %d offset %d outside the value's bytes %d to %d", i, vo, header, size)
		}
		if err := d.value(t, data[vo:], at+vo, depth); err != nil {
			return err
		}
	}
	d.out = append(d.out, brackets[1])
	return nil
}

// inlined reports whether a value of type typ is stored in its value
// entry rather than at an offset, in a large or small array or object.
func inlined(typ byte, large bool) bool {
	switch typ {
	case typeLiteral, typeInt16, typeUint16:
		return true
	case typeInt32, typeUint32:
		return large
	}
	return false
}

// scalarSize returns the size of a value of type typ that has one, a
// literal or number, and 0 for other types.
func scalarSize(typ byte) int {
	switch typ {
	case typeLiteral:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32:
		return 4
	case typeInt64, typeUint64, typeDouble:
		return 8
	}
	return 0
}

// offset reads a w-byte (2 or 4) little-endian count, size or offset.
func offset(b []byte, w int) int {
	if w == 2 {
		return int(binary.LittleEndian.Uint16(b))
	}
	return int(binary.LittleEndian.Uint32(b))
}

// varLength reads the length of a string or opaque value: 7 bits a byte,
// low bits first, the high bit set on every byte but the last, in at
// most 5 bytes. It returns the length and the bytes it took.
func varLength(b []byte) (int, int, error) {
	var l uint64
	for i := 0; i < 5 && i < len(b); i++ {
		l |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if l > math.MaxUint32 || l > math.MaxInt {
				return 0, 0, fmt.Errorf("length %d beyond %d", l, min(math.MaxUint32, uint64(math.MaxInt)))
			}
			return int(l), i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("length unterminated in %d bytes", min(len(b), 5))
}

// opaque appends the text of an opaque value: a MySQL field type, a
// length as varLength reads it, and the bytes of a value of that type.
func (d *decoder) opaque(data []byte, at int) error {
	if len(data) < 1 {
		return fmt.Errorf("mysqljson: opaque value at offset %d: no field type", at)
	}
	field := data[0]
	l, n, err := varLength(data[1:])
	if err != nil {
		return fmt.Errorf("mysqljson: opaque value of field type %d at offset %d: %w", field, at, err)
	}
	if l > len(data)-1-n {
		return fmt.Errorf("mysqljson: opaque value of field type %d at offset %d: %d bytes beyond the %d left", field, at, l, len(data)-1-n)
	}
	v := data[1+n : 1+n+l]
	switch field {
	case fieldDecimal:
		d.out, err = appendDecimal(d.out, v)
	case fieldTime, fieldDate, fieldDatetime, fieldTimestamp:
		if len(v) < 8 {
			err = fmt.Errorf("%d bytes, a packed time needs 8", len(v))
			break
		}
		p := int64(binary.LittleEndian.Uint64(v))
		if field == fieldTime {
			d.out = appendTime(d.out, p)
		} else {
			d.out = appendDatetime(d.out, p, field == fieldDate)
		}
	default:
		d.out = appendBase64(d.out, field, v)
	}
	if err != nil {
		return fmt.Errorf("mysqljson: opaque value of field type %d at offset %d: %w", field, at, err)
	}
	return nil
}

// typeName names a value's type for errors.
func typeName(typ byte) string {
	names := [...]string{"small object", "large object", "small array", "large array", "literal",
		"int16", "uint16", "int32", "uint32", "int64", "uint64", "double", "string"}
	if int(typ) < len(names) {
		return names[typ]
	}
	if typ == typeOpaque {
		return "opaque value"
	}
	return "value"
}

// appendString appends s as a JSON string as go-mysql writes it: '"',
// '\\' and bytes below 0x20 escaped as MySQL escapes them, and then, as
// go-mysql's JSON encoder compacts it, '<', '>', '&', U+2028 and U+2029
// escaped too; other bytes as they are, valid UTF-8 or not.
func appendString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c == '\b':
			out = append(out, `\b`...)
		case c == '\f':
			out = append(out, `\f`...)
		case c == '\n':
			out = append(out, `\n`...)
		case c == '\r':
			out = append(out, `\r`...)
		case c == '\t':
			out = append(out, `\t`...)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			out = append(out, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
			i += 2
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}

// appendDouble appends f as go-mysql does: whole numbers in full with
// ".0", others in the shortest form that reads back as f.
func appendDouble(out []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(out, "null"...)
	case f == math.Trunc(f):
		return strconv.AppendFloat(out, f, 'f', 1, 64)
	}
	return strconv.AppendFloat(out, f, 'g', -1, 64)
}

// digitBytes is how many bytes MySQL's binary decimal stores n decimal
// digits in, for n up to 9; 9 digits take a whole 4-byte word.
var digitBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// appendDecimal appends a JSON DECIMAL (its precision, its scale and its
// value in MySQL's binary decimal format: groups of 9 digits in 4
// big-endian bytes, a shorter group first in the integer part and last
// in the fraction, all bits inverted if negative, and then the first
// bit inverted) as a number with as many fractional digits as its scale.
func appendDecimal(out, v []byte) ([]byte, error) {
	if len(v) < 2 {
		return out, fmt.Errorf("%d bytes, a decimal's precision and scale need 2", len(v))
	}
	prec, scale := int(v[0]), int(v[1])
	if scale > prec {
		return out, fmt.Errorf("decimal scale %d above its precision %d", scale, prec)
	}
	intg, b := prec-scale, v[2:]
	if size := intg/9*4 + digitBytes[intg%9] + scale/9*4 + digitBytes[scale%9]; len(b) < size {
		return out, fmt.Errorf("decimal(%d,%d) of %d bytes, it needs %d", prec, scale, len(b), size)
	}
	if prec == 0 {
		return append(out, '0'), nil
	}
	var mask byte
	if b[0]&0x80 == 0 {
		mask = 0xff
		out = append(out, '-')
	}
	pos := 0
	group := func(digits int) (uint64, error) {
		var x uint64
		for i := range digitBytes[digits] {
			c := b[pos+i] ^ mask
			if pos+i == 0 {
				c ^= 0x80
			}
			x = x<<8 | uint64(c)
		}
		pos += digitBytes[digits]
		if lim := uint64(math.Pow10(digits)); x >= lim {
			return 0, fmt.Errorf("decimal(%d,%d) has %d in a group of %d digits", prec, scale, x, digits)
		}
		return x, nil
	}
	lead := true // no integer digit written yet
	for i, digits := 0, intg%9; i <= intg/9; i, digits = i+1, 9 {
		if digits == 0 {
			continue
		}
		x, err := group(digits)
		switch {
		case err != nil:
			return out, err
		case !lead:
			out = appendPadded(out, x, digits)
		case x != 0:
			out = strconv.AppendUint(out, x, 10)
			lead = false
		}
	}
	if lead {
		out = append(out, '0')
	}
	if scale > 0 {
		out = append(out, '.')
	}
	for i := 0; i <= scale/9; i++ {
		digits := 9
		if i == scale/9 {
			digits = scale % 9
		}
		if digits == 0 {
			continue
		}
		x, err := group(digits)
		if err != nil {
			return out, err
		}
		out = appendPadded(out, x, digits)
	}
	return out, nil
}

// appendPadded appends x with leading zeros to width digits.
func appendPadded(out []byte, x uint64, width int) []byte {
	s := strconv.FormatUint(x, 10)
	for range width - len(s) {
		out = append(out, '0')
	}
	return append(out, s...)
}

// appendTime appends a TIME packed as MySQL packs it in an int64 (sign;
// hours, minutes and seconds in bits 36-45, 30-35 and 24-29;
// microseconds in bits 0-23) as a string with six fractional digits.
func appendTime(out []byte, v int64) []byte {
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	hms := v >> 24
	return fmt.Appendf(out, `"%s%02d:%02d:%02d.%06d"`, sign, (hms>>12)%(1<<10), (hms>>6)%(1<<6), hms%(1<<6), v%(1<<24))
}

// appendDatetime appends a DATE, DATETIME or TIMESTAMP packed as MySQL
// packs it in an int64 (year*13+month in bits 46-62, day in 41-45,
// hours, minutes and seconds in 24-40, microseconds in 0-23) as a
// string: the date alone for a DATE, else with six fractional digits.
func appendDatetime(out []byte, v int64, date bool) []byte {
	if v < 0 {
		v = -v
	}
	ymdhms := v >> 24
	ymd, hms := ymdhms>>17, ymdhms%(1<<17)
	ym := ymd >> 5
	if date {
		return fmt.Appendf(out, `"%04d-%02d-%02d"`, ym/13, ym%13, ymd%(1<<5))
	}
	return fmt.Appendf(out, `"%04d-%02d-%02d %02d:%02d:%02d.%06d"`, ym/13, ym%13, ymd%(1<<5),
		hms>>12, (hms>>6)%(1<<6), hms%(1<<6), v%(1<<24))
}

// appendBase64 appends an opaque value of another field type as MySQL
// writes it: "base64:type", the type's number, ':' and the bytes in
// base64, broken by a newline after every 76 characters.
func appendBase64(out []byte, field byte, v []byte) []byte {
	out = append(out, `"base64:type`...)
	out = strconv.AppendUint(out, uint64(field), 10)
	out = append(out, ':')
	enc := base64.StdEncoding.EncodeToString(v)
	for len(enc) > 76 {
		out = append(append(out, enc[:76]...), `\n`...)
		enc = enc[76:]
	}
	return append(append(out, enc...), '"')
}
