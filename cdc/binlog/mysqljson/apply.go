package mysqljson

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Op is the operation of a Diff. The values are MySQL's
// enum_json_diff_operation, the byte a diff starts with in the binlog.
type Op byte

const (
	// Replace sets the value at the path, as JSON_REPLACE(doc, path,
	// value) does.
	Replace Op = 0
	// Insert adds the value at the path. For an array cell it does what
	// JSON_ARRAY_INSERT(doc, path, value) does (the elements from there
	// on move up one; past the end it appends); for an object member
	// what JSON_INSERT(doc, path, value) does.
	Insert Op = 1
	// Remove deletes the value at the path, as JSON_REMOVE(doc, path)
	// does.
	Remove Op = 2
)

// String names the operation: "Replace", "Insert", "Remove", or Op(N)
// for a number MySQL does not define.
func (o Op) String() string {
	switch o {
	case Replace:
		return "Replace"
	case Insert:
		return "Insert"
	case Remove:
		return "Remove"
	}
	return fmt.Sprintf("Op(%d)", byte(o))
}

// Diff is one logical change to a JSON document as MySQL logs it for a
// partial update: an operation, the path it applies to (MySQL's path
// text, see ParsePath) and, unless Op is Remove, the new value as JSON
// text. Value is ignored for Remove.
type Diff struct {
	// Op is what the diff does at Path.
	Op Op
	// Path is the JSON path the diff applies to, as MySQL prints it.
	Path string
	// Value is the new value as JSON text, or empty for Remove.
	Value string
}

// maxCanonicalDepth is how deeply arrays and objects may nest in a
// document Canonical prints: encoding/json's limit for what it reads, so
// that whatever Apply prints Canonical reads back. (MySQL itself stores
// no document deeper than 100.)
const maxCanonicalDepth = 10000

// Apply applies diffs, in order, to doc (the before image, JSON text)
// and returns the after image in the form Canonical prints.
//
// Each diff acts as its MySQL function would (see Op) on the document
// the diffs before it left. MySQL logs a diff only where it changed
// the document, so, as MySQL's own replica does (apply_json_diffs), a
// diff that would change nothing is an error: the before image and the
// diffs disagree, and a document built from them would be wrong. That
// is a Replace or Remove whose path names no value, an Insert of a
// member that is there already, and a path that leads through a member
// or cell that is not there, through a scalar, or through an array with
// a member leg or an object with a cell leg. The path $ (the whole
// document) is an error too:
// MySQL logs a full value instead of such a diff, and its own applier
// rejects one. Errors name the diff by its index in diffs and its path.
func Apply(doc string, diffs []Diff) (string, error) {
	root, err := decodeJSONText(doc)
	if err != nil {
		return "", fmt.Errorf("mysqljson: before image: %w", err)
	}
	for i, d := range diffs {
		if root, err = applyDiff(root, d); err != nil {
			return "", fmt.Errorf("mysqljson: diffs[%d] (%s %q): %w", i, d.Op, d.Path, err)
		}
	}
	out, err := encodeCanonical(root)
	if err != nil {
		return "", fmt.Errorf("mysqljson: after image: %w", err)
	}
	return out, nil
}

// Canonical prints the JSON text doc in the package's canonical form:
// compact (no whitespace), object members ordered by the byte length of
// their names and then bytewise (MySQL's storage order; of duplicate
// names the last wins, as in MySQL), numbers exactly as doc writes them
// (1.50 stays 1.50, 12345678901234567890 stays as it is), and strings
// escaped as encoding/json escapes them without HTML escaping. doc must
// be one JSON value, in valid UTF-8, without lone surrogate escapes.
func Canonical(doc string) (string, error) {
	v, err := decodeJSONText(doc)
	if err != nil {
		return "", fmt.Errorf("mysqljson: %w", err)
	}
	out, err := encodeCanonical(v)
	if err != nil {
		return "", fmt.Errorf("mysqljson: %w", err)
	}
	return out, nil
}

// applyDiff applies one diff to the document root and returns the
// document's new root.
func applyDiff(root any, d Diff) (any, error) {
	if d.Op != Replace && d.Op != Insert && d.Op != Remove {
		return nil, fmt.Errorf("operation %d is not Replace (0), Insert (1) or Remove (2)", byte(d.Op))
	}
	path, err := parsePathText(d.Path)
	if err != nil {
		return nil, err
	}
	if len(path) == 0 {
		return nil, errors.New("the path $ (the whole document) cannot be the target of a diff")
	}
	var value any
	if d.Op != Remove {
		if value, err = decodeJSONText(d.Value); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
	}

	// Walk to the container the last leg applies to, remembering how to
	// put a new value in its place (an insert or removal in an array
	// makes a new slice).
	parent := root
	setParent := func(v any) { root = v }
	for i, leg := range path[:len(path)-1] {
		switch c := parent.(type) {
		case map[string]any:
			if leg.IsIndex {
				return nil, legMismatch(path, i, parent)
			}
			child, ok := c[leg.Key]
			if !ok {
				return nil, notThere(path, i)
			}
			key := leg.Key
			parent, setParent = child, func(v any) { c[key] = v }
		case []any:
			if !leg.IsIndex {
				return nil, legMismatch(path, i, parent)
			}
			pos, ok := elementPosition(leg, len(c))
			if !ok {
				return nil, notThere(path, i)
			}
			parent, setParent = c[pos], func(v any) { c[pos] = v }
		default:
			return nil, legMismatch(path, i, parent)
		}
	}

	last := path[len(path)-1]
	switch c := parent.(type) {
	case map[string]any:
		if last.IsIndex {
			return nil, legMismatch(path, len(path)-1, parent)
		}
		_, exists := c[last.Key]
		switch {
		case d.Op == Insert && exists:
			return nil, fmt.Errorf("%s is there already: the before image and the diff disagree", Path(path).String())
		case d.Op != Insert && !exists:
			return nil, notThere(path, len(path)-1)
		case d.Op == Remove:
			delete(c, last.Key)
		default:
			c[last.Key] = value
		}
	case []any:
		if !last.IsIndex {
			return nil, legMismatch(path, len(path)-1, parent)
		}
		switch d.Op {
		case Replace:
			pos, ok := elementPosition(last, len(c))
			if !ok {
				return nil, notThere(path, len(path)-1)
			}
			c[pos] = value
		case Insert:
			pos := insertPosition(last, len(c))
			grown := make([]any, 0, len(c)+1)
			grown = append(grown, c[:pos]...)
			grown = append(grown, value)
			setParent(append(grown, c[pos:]...))
		case Remove:
			pos, ok := elementPosition(last, len(c))
			if !ok {
				return nil, notThere(path, len(path)-1)
			}
			setParent(slices.Concat(c[:pos], c[pos+1:]))
		}
	default:
		return nil, legMismatch(path, len(path)-1, parent)
	}
	return root, nil
}

// elementPosition is the element an array leg names in an array of n
// elements, and false if it names none (MySQL's Json_array_index).
func elementPosition(l Leg, n int) (int, bool) {
	if l.Index >= n {
		return 0, false
	}
	if l.FromEnd {
		return n - 1 - l.Index, true
	}
	return l.Index, true
}

// insertPosition is where an Insert at an array leg puts the new
// element in an array of n: the element's position if the leg names
// one, else n past the end, or 0 for [last-N] before the start (as
// JSON_ARRAY_INSERT does).
func insertPosition(l Leg, n int) int {
	if pos, ok := elementPosition(l, n); ok {
		return pos
	}
	if l.FromEnd {
		return 0
	}
	return n
}

// legMismatch is the error for path leg i meeting a value it cannot
// step into.
func legMismatch(path Path, i int, v any) error {
	want := "an object"
	if path[i].IsIndex {
		want = "an array"
	}
	return fmt.Errorf("the value at %s is %s, but leg %s needs %s: the before image and the diff disagree",
		path[:i], jsonKind(v), Path{path[i]}.String()[1:], want)
}

// jsonKind names the type of a decoded JSON value for errors.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("a %T", v)
}

// decodeJSONText parses one JSON value: objects as map[string]any,
// arrays as []any, numbers as json.Number (their text as written).
func decodeJSONText(s string) (any, error) {
	if off := invalidUTF8Offset(s); off >= 0 {
		return nil, fmt.Errorf("invalid JSON text: not valid UTF-8 at byte %d", off)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("invalid JSON text: no value")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("invalid JSON text: unexpected end at byte %d", len(s))
		case errors.As(err, &syntax):
			// Offset counts the bytes read, the bad one included.
			return nil, fmt.Errorf("invalid JSON text at byte %d: %w", max(syntax.Offset-1, 0), err)
		}
		return nil, fmt.Errorf("invalid JSON text: %w", err)
	}
	end := int(dec.InputOffset())
	if rest := strings.TrimLeft(s[end:], " \t\r\n"); rest != "" {
		return nil, fmt.Errorf("invalid JSON text at byte %d: more after the value", len(s)-len(rest))
	}
	if err := checkSurrogateEscapes(s); err != nil {
		return nil, fmt.Errorf("invalid JSON text: %w", err)
	}
	return v, nil
}

// invalidUTF8Offset is the offset of the first byte of s that is not
// valid UTF-8, or -1.
func invalidUTF8Offset(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// checkSurrogateEscapes refuses \u escapes of a lone UTF-16 surrogate
// in the strings of valid JSON text s: MySQL's parser rejects them,
// where encoding/json would turn them into U+FFFD.
func checkSurrogateEscapes(s string) error {
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(s):
			if s[i+1] != 'u' {
				i++ // skip the escaped character
				continue
			}
			u, ok := hex4(s, i+2)
			if !ok {
				continue // not valid JSON; the parser says so
			}
			switch {
			case u >= 0xD800 && u <= 0xDBFF:
				if low, ok := hex4(s, i+8); ok && s[i+6] == '\\' && s[i+7] == 'u' && low >= 0xDC00 && low <= 0xDFFF {
					i += 11
					continue
				}
				return fmt.Errorf("lone surrogate escape %s at byte %d", s[i:i+6], i)
			case u >= 0xDC00 && u <= 0xDFFF:
				return fmt.Errorf("lone surrogate escape %s at byte %d", s[i:i+6], i)
			}
			i += 5
		}
	}
	return nil
}

// hex4 reads the four hex digits of a \u escape at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// encodeCanonical prints a value decodeJSONText made in the form
// Canonical describes.
func encodeCanonical(v any) (string, error) {
	w := &canonicalWriter{}
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	if err := w.value(v, 0); err != nil {
		return "", err
	}
	return string(w.out), nil
}

// canonicalWriter accumulates canonical JSON text in out; strings go
// through enc (encoding/json without HTML escaping) into scratch.
type canonicalWriter struct {
	out     []byte
	scratch bytes.Buffer
	enc     *json.Encoder
}

func (w *canonicalWriter) value(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		w.out = append(w.out, "null"...)
	case bool:
		if x {
			w.out = append(w.out, "true"...)
		} else {
			w.out = append(w.out, "false"...)
		}
	case json.Number:
		w.out = append(w.out, x...)
	case string:
		w.string(x)
	case []any:
		if depth >= maxCanonicalDepth {
			return fmt.Errorf("arrays and objects nest deeper than %d levels", maxCanonicalDepth)
		}
		w.out = append(w.out, '[')
		for i, e := range x {
			if i > 0 {
				w.out = append(w.out, ',')
			}
			if err := w.value(e, depth+1); err != nil {
				return err
			}
		}
		w.out = append(w.out, ']')
	case map[string]any:
		if depth >= maxCanonicalDepth {
			return fmt.Errorf("arrays and objects nest deeper than %d levels", maxCanonicalDepth)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareMemberNames)
		w.out = append(w.out, '{')
		for i, k := range keys {
			if i > 0 {
				w.out = append(w.out, ',')
			}
			w.string(k)
			w.out = append(w.out, ':')
			if err := w.value(x[k], depth+1); err != nil {
				return err
			}
		}
		w.out = append(w.out, '}')
	default:
		return fmt.Errorf("cannot print a %T as JSON", v)
	}
	return nil
}

// string appends s as encoding/json quotes it (without HTML escaping).
func (w *canonicalWriter) string(s string) {
	w.scratch.Reset()
	_ = w.enc.Encode(s) // a string always encodes
	w.out = append(w.out, bytes.TrimSuffix(w.scratch.Bytes(), []byte{'\n'})...)
}

// compareMemberNames orders object member names as MySQL stores them:
// shorter (in bytes) first, then bytewise.
func compareMemberNames(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// notThere is the error of a diff whose path names no value at its leg
// i (MySQL logs no such diff).
func notThere(path Path, i int) error {
	return fmt.Errorf("%s names no value: the before image and the diff disagree", path[:i+1].String())
}
