package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Value is one column value: nil, int64, uint64, float64, string or []byte.
type Value struct{ V any }

// NewValue converts a value read from the binlog into a Value. Strings
// that are not valid UTF-8 travel as bytes, so no byte is ever altered.
func NewValue(v any) Value {
	switch x := v.(type) {
	case nil, int64, uint64, float64, []byte:
		return Value{x}
	case string:
		if !utf8.ValidString(x) {
			return Value{[]byte(x)}
		}
		return Value{x}
	case int:
		return Value{int64(x)}
	case int8:
		return Value{int64(x)}
	case int16:
		return Value{int64(x)}
	case int32:
		return Value{int64(x)}
	case uint8:
		return Value{uint64(x)}
	case uint16:
		return Value{uint64(x)}
	case uint32:
		return Value{uint64(x)}
	case float32:
		return Value{float64(x)}
	case fmt.Stringer:
		return Value{x.String()}
	}
	return Value{fmt.Sprint(v)}
}

type b64 struct {
	B string `json:"b"`
}

// NewValues converts a row image read from the binlog (NewValue of each
// column).
func NewValues(vals ...any) []Value {
	out := make([]Value, len(vals))
	for i, v := range vals {
		out[i] = NewValue(v)
	}
	return out
}

// MarshalJSON encodes the value (see package doc).
func (v Value) MarshalJSON() ([]byte, error) {
	switch x := v.V.(type) {
	case nil:
		return []byte("null"), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case uint64:
		return strconv.AppendUint(nil, x, 10), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("float value %v cannot be replicated", x)
		}
		b := strconv.AppendFloat(nil, x, 'g', -1, 64)
		if !bytes.ContainsAny(b, ".eE") {
			b = append(b, ".0"...) // keep it a float on the way back
		}
		return b, nil
	case string:
		return json.Marshal(x)
	case []byte:
		return json.Marshal(b64{base64.StdEncoding.EncodeToString(x)})
	}
	return nil, fmt.Errorf("value of type %T cannot be replicated", v.V)
}

// UnmarshalJSON decodes a value written by MarshalJSON.
func (v *Value) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		v.V = nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v.V = s
	case len(b) > 0 && b[0] == '{':
		var x b64
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(x.B)
		if err != nil {
			return fmt.Errorf("bytes value: %w", err)
		}
		v.V = raw
	case bytes.ContainsAny(b, ".eE"):
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("float value %s: %w", b, err)
		}
		v.V = f
	case len(b) > 0 && b[0] == '-':
		i, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("integer value %s: %w", b, err)
		}
		v.V = i
	default:
		u, err := strconv.ParseUint(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("value %s is not null, a number, a string or bytes", b)
		}
		if u <= math.MaxInt64 {
			v.V = int64(u)
		} else {
			v.V = u
		}
	}
	return nil
}

// Equal reports whether two values are the same (bytes and strings of
// the same content are equal, as MySQL compares them).
func (v Value) Equal(o Value) bool {
	switch x := v.V.(type) {
	case []byte:
		return string(x) == asString(o.V)
	case string:
		return x == asString(o.V)
	}
	return v.V == o.V
}

func asString(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return "\x00not-a-string"
}

// Text is the value in text form: decimal digits for numbers, the bytes
// themselves for strings and bytes, "" for null. It is what a shard key
// hashes (topo.BucketOf) and how keys are shown.
func (v Value) Text() string {
	switch x := v.V.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v.V)
}

// PadRight is v right-padded with zero bytes to n bytes, as MySQL stores
// a BINARY(n) value (its binlog leaves the padding out); a NULL, or a
// value of n bytes or more, is v.
func (v Value) PadRight(n int) Value {
	var b []byte
	switch x := v.V.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return v
	}
	if len(b) >= n {
		return v
	}
	out := make([]byte, n)
	copy(out, b)
	return Value{out}
}
