package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FileProblem is the Path of a problem with the file as a whole: not
// YAML, or not a mapping.
const FileProblem = "(file)"

// DecodeStrict decodes one YAML document into v, a non-nil pointer to a
// struct, strictly: a key that names no field (by its yaml tag, or the
// lower-cased field name as yaml.v3 has it), a key set twice and a value
// of the wrong kind are problems. Unlike yaml.v3's KnownFields it goes on
// after a problem and reports every one with its field path
// (regions[1].mysql.dsn) and the fix, so that callers can list them
// together with their validation's. A field that fails keeps its zero
// value.
//
// Values are decoded by yaml.v3, except durations, which also take 0.
// Fields inlined with `yaml:",inline"` must be structs, not pointers.
// Anchors, aliases and merge keys (<<) work.
//
// err is io.EOF when data holds no document (empty, or comments only). A
// document that is not valid YAML, or not a mapping, is one problem at
// FileProblem, and nothing is decoded.
func DecodeStrict(data []byte, v any) (Problems, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: DecodeStrict needs a pointer to a struct, got %T", v)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, err
		}
		return Problems{{Path: FileProblem, Msg: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}, nil
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d := &strictDecoder{}
	d.value(n, rv.Elem(), "")
	return d.ps, nil
}

// Add returns ps with the problems of more that are not at, or inside, a
// field ps already reports: a value that could not be decoded is reported
// once, not again as missing by validation.
func (ps Problems) Add(more Problems) Problems {
	out := ps
	for _, p := range more {
		covered := false
		for _, q := range ps {
			rest, ok := strings.CutPrefix(p.Path, q.Path)
			covered = covered || ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

// Has reports whether a problem is at path.
func (ps Problems) Has(path string) bool {
	for _, p := range ps {
		if p.Path == path {
			return true
		}
	}
	return false
}

type strictDecoder struct{ ps Problems }

func (d *strictDecoder) add(path, format string, args ...any) {
	if path == "" {
		path = FileProblem
	}
	d.ps = append(d.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// value decodes n into v, which is addressable.
func (d *strictDecoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := v.Type()
	if t == durationType || reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		d.leaf(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(path, "is a %s, want a list", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.add(path, "is a %s, want a mapping", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			p := fmt.Sprintf("%s[%q]", path, kn.Value)
			k := reflect.New(t.Key()).Elem()
			if !d.leaf(kn, k, p) {
				continue
			}
			if m.MapIndex(k).IsValid() {
				d.add(p, "is set twice (line %d): keep one", kn.Line)
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			d.value(n.Content[i+1], e, p)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		d.leaf(n, v, path)
	}
}

// structure decodes a mapping into struct v, field by field.
func (d *strictDecoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	index, names := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.add(path, "is a %s, want a mapping of fields (%s)", kindName(n), strings.Join(names, ", "))
		return
	}
	// Merge keys first: the mapping's own keys override what they bring.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].ShortTag() == "!!merge" {
			src := n.Content[i+1]
			if src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind == yaml.SequenceNode {
				for _, s := range src.Content {
					d.structure(s, v, path)
				}
			} else {
				d.structure(src, v, path)
			}
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" {
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		f, known := index[k.Value]
		switch {
		case !known:
			if s := suggest(k.Value, names); s != "" {
				d.add(p, "unknown field (line %d): did you mean %s?", k.Line, s)
			} else {
				d.add(p, "unknown field (line %d): use one of %s", k.Line, strings.Join(names, ", "))
			}
		case seen[k.Value] != 0:
			d.add(p, "is set twice (lines %d and %d): keep one", seen[k.Value], k.Line)
		default:
			seen[k.Value] = k.Line
			d.value(n.Content[i+1], v.FieldByIndex(f), p)
		}
	}
}

// fieldsOf lists a struct's YAML keys in field order, with their field
// indexes, following inline structs.
func fieldsOf(t reflect.Type) (map[string][]int, []string) {
	index := map[string][]int{}
	var names []string
	var walk func(t reflect.Type, at []int)
	walk = func(t reflect.Type, at []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			inline := strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct
			if name == "-" || !f.IsExported() && !(f.Anonymous && inline) {
				continue
			}
			idx := append(append([]int(nil), at...), i)
			if inline {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			index[name] = idx
			names = append(names, name)
		}
	}
	walk(t, nil)
	return index, names
}

// leaf decodes a scalar (or a type that decodes itself) into v.
func (d *strictDecoder) leaf(n *yaml.Node, v reflect.Value, path string) bool {
	t := v.Type()
	what, fix := describe(t)
	if t == durationType {
		switch {
		case isNull(n) || n.Kind == yaml.ScalarNode && n.Value == "0":
			v.SetInt(0)
			return true
		case n.Kind != yaml.ScalarNode:
			d.add(path, "is a %s, want %s: %s", kindName(n), what, fix)
			return false
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.add(path, "%q is not %s: %s", n.Value, what, fix)
			return false
		}
		v.SetInt(int64(dur))
		return true
	}
	selfDecoding := reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface
	if n.Kind != yaml.ScalarNode && !selfDecoding {
		d.add(path, "is a %s, want %s", kindName(n), what)
		return false
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		if n.Kind == yaml.ScalarNode && fix != "" {
			d.add(path, "%q is not %s: %s", n.Value, what, fix)
		} else {
			d.add(path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return false
	}
	return true
}

// describe names what a field of type t holds, and how to write it.
func describe(t reflect.Type) (what, fix string) {
	switch {
	case t == durationType:
		return "a duration", "write e.g. 10s, 500ms or 2m"
	case t.Kind() == reflect.Bool:
		return "a boolean", "write true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number", "write e.g. 10"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
		return "a whole number", fmt.Sprintf("write 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number", "write e.g. 1.5"
	case t.Kind() == reflect.String:
		return "a string", ""
	}
	return "a " + t.String(), ""
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("value %q", n.Value)
	}
	return "node"
}

// suggest returns the name closest to an unknown key, if it is close
// enough to be a slip (at most two edits, and fewer than half the key).
func suggest(key string, names []string) string {
	best, bestD := "", 3
	for _, name := range names {
		if d := editDistance(strings.ToLower(key), name); d < bestD && 2*d < len(key) {
			best, bestD = name, d
		}
	}
	return best
}

// editDistance counts the edits (insert, delete, replace, swap two
// neighbours) that turn a into b: the optimal string alignment distance.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
