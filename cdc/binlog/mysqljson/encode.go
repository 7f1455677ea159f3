package mysqljson

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Encode returns the binary JSON document of v as MySQL 8 would store
// the same JSON, for tests (of this package and of cdc/binlog) to build
// the bytes of row events with: MySQL writes them in production.
//
// v is what encoding/json's Unmarshal into an any makes with UseNumber:
// a map[string]any, []any, string, json.Number, bool or nil, nested. As
// MySQL does, Encode writes an array or object in the small format
// (2-byte counts, sizes and offsets) when it fits in 64 KiB and in the
// large one (4-byte) otherwise; object keys sorted by length, then
// bytes; literals and 16-bit integers inline in their value entries,
// and 32-bit integers too in the large format. A number without a
// fraction or exponent is an int16, int32 or int64, the first it fits,
// or a uint64 above the int64s; any other number is a double. It is an
// error if v holds another type, a number beyond a double, a key of
// over 65535 bytes, or arrays and objects nested over 1000 deep.
func Encode(v any) ([]byte, error) {
	typ, data, err := encode(v, 0)
	if err != nil {
		return nil, err
	}
	return append([]byte{typ}, data...), nil
}

// EncodeText parses the JSON text s (numbers as json.Number) and
// returns Encode of its value.
func EncodeText(s string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("mysqljson: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("mysqljson: text after the JSON value")
	}
	return Encode(v)
}

// encode returns the type and the bytes of v, at nesting depth depth.
func encode(v any, depth int) (byte, []byte, error) {
	switch x := v.(type) {
	case nil:
		return typeLiteral, []byte{literalNull}, nil
	case bool:
		if x {
			return typeLiteral, []byte{literalTrue}, nil
		}
		return typeLiteral, []byte{literalFalse}, nil
	case string:
		return typeString, append(appendVarLength(nil, len(x)), x...), nil
	case json.Number:
		return encodeNumber(x)
	case []any:
		return encodeContainer(false, nil, x, depth)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = x[k]
		}
		return encodeContainer(true, keys, vals, depth)
	}
	return 0, nil, fmt.Errorf("mysqljson: cannot encode a %T", v)
}

// encodeNumber returns the type and bytes MySQL stores the number n in.
func encodeNumber(n json.Number) (byte, []byte, error) {
	s := string(n)
	if s == "" || !(s[0] == '-' || '0' <= s[0] && s[0] <= '9') || !json.Valid([]byte(s)) {
		return 0, nil, fmt.Errorf("mysqljson: %q is not a JSON number", s)
	}
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			switch {
			case i == int64(int16(i)):
				return typeInt16, binary.LittleEndian.AppendUint16(nil, uint16(i)), nil
			case i == int64(int32(i)):
				return typeInt32, binary.LittleEndian.AppendUint32(nil, uint32(i)), nil
			}
			return typeInt64, binary.LittleEndian.AppendUint64(nil, uint64(i)), nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return typeUint64, binary.LittleEndian.AppendUint64(nil, u), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("mysqljson: number %s is beyond a double", s)
	}
	return typeDouble, binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)), nil
}

// encodeContainer returns the type and bytes of an array of vals, or
// of an object of keys and vals, small if it fits and large otherwise.
func encodeContainer(object bool, keys []string, vals []any, depth int) (byte, []byte, error) {
	if depth >= maxDepth {
		return 0, nil, fmt.Errorf("mysqljson: nested in more than %d arrays and objects", maxDepth)
	}
	type value struct {
		typ  byte
		data []byte
	}
	values := make([]value, len(vals))
	for i, v := range vals {
		typ, data, err := encode(v, depth+1)
		if err != nil {
			return 0, nil, err
		}
		values[i] = value{typ, data}
	}
	for _, k := range keys {
		if len(k) > math.MaxUint16 {
			return 0, nil, fmt.Errorf("mysqljson: a key of %d bytes, beyond %d", len(k), math.MaxUint16)
		}
	}
	for _, large := range []bool{false, true} {
		w, limit := 2, math.MaxUint16
		if large {
			w, limit = 4, math.MaxUint32
		}
		size := 2*w + len(vals)*(1+w)
		if object {
			size += len(keys) * (w + 2)
		}
		for _, k := range keys {
			size += len(k)
		}
		for _, v := range values {
			if !inlined(v.typ, large) {
				size += len(v.data)
			}
		}
		if size > limit {
			continue
		}
		put := func(b []byte, n int) []byte {
			if large {
				return binary.LittleEndian.AppendUint32(b, uint32(n))
			}
			return binary.LittleEndian.AppendUint16(b, uint16(n))
		}
		b := put(put(make([]byte, 0, size), len(vals)), size)
		next := len(b) + len(vals)*(1+w) // where the next key or value goes
		if object {
			next += len(keys) * (w + 2)
		}
		for _, k := range keys {
			b = binary.LittleEndian.AppendUint16(put(b, next), uint16(len(k)))
			next += len(k)
		}
		for _, v := range values {
			b = append(b, v.typ)
			if inlined(v.typ, large) {
				entry := make([]byte, w)
				copy(entry, v.data)
				b = append(b, entry...)
				continue
			}
			b = put(b, next)
			next += len(v.data)
		}
		for _, k := range keys {
			b = append(b, k...)
		}
		for _, v := range values {
			if !inlined(v.typ, large) {
				b = append(b, v.data...)
			}
		}
		typ := byte(typeSmallArray)
		if object {
			typ = typeSmallObject
		}
		if large {
			typ++ // the large kind follows the small one
		}
		return typ, b, nil
	}
	return 0, nil, errors.New("mysqljson: an array or object beyond 4 GiB")
}

// appendVarLength appends n as varLength reads it.
func appendVarLength(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}
