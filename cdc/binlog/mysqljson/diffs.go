package mysqljson

import (
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// DecodeDiffs decodes a JSON column's diff vector as a partial update
// logs it (MySQL's Json_diff_vector, after the value's length): diffs in
// order, each an operation byte, the path's length (length-encoded) and
// text, and unless it removes, the value's length and binary JSON.
func DecodeDiffs(b []byte) ([]Diff, error) {
	var out []Diff
	for pos := 0; pos < len(b); {
		at := pos
		op := Op(b[pos])
		if op != Replace && op != Insert && op != Remove {
			return nil, fmt.Errorf("mysqljson: diff %d at byte %d: operation %d is not replace (0), insert (1) or remove (2)", len(out), at, op)
		}
		pos++
		path, n, err := lengthPrefixed(b, pos)
		if err != nil {
			return nil, fmt.Errorf("mysqljson: diff %d at byte %d: path: %w", len(out), at, err)
		}
		pos += n
		d := Diff{Op: op, Path: string(path)}
		if op != Remove {
			v, n, err := lengthPrefixed(b, pos)
			if err != nil {
				return nil, fmt.Errorf("mysqljson: diff %d (%s) at byte %d: value: %w", len(out), d.Path, at, err)
			}
			pos += n
			if d.Value, err = Decode(v); err != nil {
				return nil, fmt.Errorf("mysqljson: diff %d (%s) at byte %d: value: %w", len(out), d.Path, at, err)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// lengthPrefixed reads a length-encoded length at pos and the bytes it
// counts, returning them and the bytes read in all.
func lengthPrefixed(b []byte, pos int) ([]byte, int, error) {
	if pos >= len(b) {
		return nil, 0, fmt.Errorf("length missing at byte %d", pos)
	}
	if pos+LengthIntSize(b[pos]) > len(b) {
		return nil, 0, fmt.Errorf("length truncated at byte %d", pos)
	}
	l, _, n := mysql.LengthEncodedInt(b[pos:])
	if l > uint64(len(b)-pos-n) {
		return nil, 0, fmt.Errorf("%d bytes at byte %d run past the vector's %d", l, pos, len(b))
	}
	return b[pos+n : pos+n+int(l)], n + int(l), nil
}

// LengthIntSize is the size of a length-encoded integer (MySQL's
// net_field_length) whose first byte is first.
func LengthIntSize(first byte) int {
	switch first {
	case 0xfc:
		return 3
	case 0xfd:
		return 4
	case 0xfe:
		return 9
	}
	return 1
}
