package verify

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Kinds of row difference, told of a region relative to the reference.
const (
	// Missing: the reference has the row, the region does not.
	Missing = "missing"
	// Extra: the region has a row the reference does not.
	Extra = "extra"
	// Different: both have the row with different column values.
	Different = "different"
)

// Image is one region's copy of a row: column name to value as text
// (nil for NULL).
type Image map[string]*string

// RowDiff is one row of one region that differs from the reference.
type RowDiff struct {
	Table string `json:"table"`
	// Key is the primary key for people, e.g. "id=5" or "a=1, b=x";
	// KeyValues are its values in key order.
	Key       string   `json:"key"`
	KeyValues []string `json:"key_values"`
	Region    string   `json:"region"`
	// Kind is missing, extra or different.
	Kind string `json:"kind"`
	// Columns lists the columns that differ (kind different).
	Columns []string `json:"columns,omitempty"`
	// Reference is the reference region's image (null when extra);
	// Image is Region's (null when missing).
	Reference Image `json:"reference"`
	Image     Image `json:"image"`
}

// row is a row's column values as text, in schema order.
type row []*string

func (s *schema) image(r row) Image {
	if r == nil {
		return nil
	}
	m := make(Image, len(r))
	for i, c := range s.cols {
		m[c] = r[i]
	}
	return m
}

// key is the row's primary key values and how they read.
func (s *schema) key(r row) (vals []string, label string) {
	parts := make([]string, len(s.pk))
	for i, p := range s.pk {
		v := "NULL"
		if r[p] != nil {
			v = *r[p]
		}
		vals = append(vals, v)
		parts[i] = s.cols[p] + "=" + v
	}
	return vals, strings.Join(parts, ", ")
}

// diffChunk diffs one chunk's rows of every region (rows[0] is the
// reference's) by primary key, in the reference's key order, then each
// region's extra rows in its order.
func diffChunk(s *schema, regions []string, rows [][]row) []RowDiff {
	index := func(rs []row) (map[string]row, []string) {
		m := make(map[string]row, len(rs))
		var order []string
		seen := map[string]int{}
		for _, r := range rs {
			vals, _ := s.key(r)
			k := strings.Join(vals, "\x00")
			if s.rowKey { // equal rows repeat: the n-th copy pairs with the n-th
				seen[k]++
				k += fmt.Sprintf("\x00#%d", seen[k])
			}
			m[k] = r
			order = append(order, k)
		}
		return m, order
	}
	ref, refOrder := index(rows[0])
	var out []RowDiff
	for i := 1; i < len(regions); i++ {
		other, otherOrder := index(rows[i])
		add := func(kind string, a, b row, cols []string) {
			r := a
			if r == nil {
				r = b
			}
			vals, label := s.key(r)
			out = append(out, RowDiff{Table: s.name(), Key: label, KeyValues: vals, Region: regions[i], Kind: kind,
				Columns: cols, Reference: s.image(a), Image: s.image(b)})
		}
		for _, k := range refOrder {
			a, b := ref[k], other[k]
			if b == nil {
				add(Missing, a, nil, nil)
			} else if cols := s.differing(a, b); len(cols) > 0 {
				add(Different, a, b, cols)
			}
		}
		for _, k := range otherOrder {
			if ref[k] == nil {
				add(Extra, nil, other[k], nil)
			}
		}
	}
	return out
}

// differing lists the columns whose values differ between a and b.
func (s *schema) differing(a, b row) []string {
	var out []string
	for i, c := range s.cols {
		if !sameValue(a[i], b[i]) {
			out = append(out, c)
		}
	}
	return out
}

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Same reports whether two images hold the same row (both nil: both absent).
func (a Image) Same(b Image) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if len(a) != len(b) {
		return false
	}
	for c, v := range a {
		w, ok := b[c]
		if !ok || !sameValue(v, w) {
			return false
		}
	}
	return true
}

// String prints an image as col=value pairs, columns sorted, values
// quoted (FormatValue).
func (a Image) String() string {
	cols := slices.Sorted(maps.Keys(a))
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + "=" + FormatValue(a[c])
	}
	return strings.Join(parts, " ")
}

// FormatValue prints a column value for people: quoted, or NULL.
func FormatValue(v *string) string {
	if v == nil {
		return "NULL"
	}
	return strconv.Quote(*v)
}

// Describe tells the difference for people, relative to the reference
// region, e.g. `lending.users id=5: different in b: name: a "x", b "y"`.
func (d RowDiff) Describe(reference string) string {
	switch d.Kind {
	case Missing:
		return fmt.Sprintf("%s %s: missing in %s (%s has %s)", d.Table, d.Key, d.Region, reference, d.Reference)
	case Extra:
		return fmt.Sprintf("%s %s: extra in %s (%s)", d.Table, d.Key, d.Region, d.Image)
	}
	cols := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = fmt.Sprintf("%s: %s %s, %s %s", c, reference, FormatValue(d.Reference[c]), d.Region, FormatValue(d.Image[c]))
	}
	return fmt.Sprintf("%s %s: different in %s: %s", d.Table, d.Key, d.Region, strings.Join(cols, "; "))
}

// Differences tells for people what keeps r from Equal: every table that
// could not be compared (and why) or differs (how many rows), then up to
// max row differences (Describe). Empty when r is Equal.
func (r *Result) Differences(max int) []string {
	var out []string
	for _, t := range r.Tables {
		switch {
		case t.Error != "":
			out = append(out, fmt.Sprintf("%s not compared: %s", t.Table, t.Error))
		case t.DifferingChunks > 0:
			out = append(out, fmt.Sprintf("%s: %d row(s) differ", t.Table, t.DifferingRows))
		}
	}
	n := min(max, len(r.Diffs))
	for _, d := range r.Diffs[:n] {
		out = append(out, d.Describe(r.Reference))
	}
	if n < r.DiffsTotal {
		out = append(out, fmt.Sprintf("(%d of %d row differences shown)", n, r.DiffsTotal))
	}
	return out
}
