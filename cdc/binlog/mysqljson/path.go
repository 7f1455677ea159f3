package mysqljson

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Leg is one step of a Path: an object member (IsIndex false, named by
// Key) or an array cell (IsIndex true, at Index).
type Leg struct {
	// Key is the member name of a member leg. Any string is a valid
	// name, the empty one included (printed as ."").
	Key string
	// Index is the position of an array leg, 0 or more. Without FromEnd
	// it counts from the first element ([0] is the first); with FromEnd
	// it counts back from the last ([last] is Index 0, [last-2] Index 2).
	Index int
	// IsIndex tells an array leg from a member leg.
	IsIndex bool
	// FromEnd marks the [last] and [last-N] forms of an array leg. MySQL
	// writes these in diffs: a partial update logs the path the
	// statement gave (JSON_SET(col, '$[last]', v) logs $[last]), less
	// only the [0] and [last] legs that stood for a non-array value.
	FromEnd bool
}

// Path is a MySQL JSON path of the kind partial-update diffs carry: $
// followed by member and array-cell legs. It cannot hold wildcards (.*,
// [*], **) or array ranges ([1 to 3]); ParsePath rejects those. The
// empty Path is $, the whole document.
type Path []Leg

// maxPathIndex is the largest array index a path may name: MySQL's
// limit (an unsigned 32-bit number), or int's where that is smaller.
const maxPathIndex = min(math.MaxUint32, math.MaxInt)

// ParsePath parses a path in MySQL's syntax as MySQL prints it in a
// diff: $, then legs .name, ."quoted name" (a JSON string, with its
// escapes) and [N], [last] or [last-N]. Like MySQL it allows whitespace
// between tokens, and takes an unquoted name only if it is what MySQL
// calls an ECMAScript identifier (see String). Wildcards, ** and ranges
// are errors. An error names the byte offset where parsing stopped and
// what was expected there.
func ParsePath(s string) (Path, error) {
	p, err := parsePathText(s)
	if err != nil {
		return nil, fmt.Errorf("mysqljson: %w", err)
	}
	return p, nil
}

// String prints the path as MySQL does (Json_path::to_string): $, then
// .name for a member whose name MySQL takes as an ECMAScript identifier
// and ."name" (double-quoted, with MySQL's escapes) for any other, and
// [N], [last] or [last-N] for array cells. ParsePath(p.String()) gives p
// back for any path whose indexes are 0 or more and whose names are
// valid UTF-8.
//
// MySQL's identifier test looks up each character's class by the low
// byte of its code point only (my_isalpha on a char), so for non-ASCII
// names it differs from ECMAScript: é (U+00E9) and 日 (U+65E5) count as
// letters and print bare, while 中 (U+4E2D, low byte '-') and к (U+043A,
// low byte ':') do not, and such names print quoted. String reproduces
// that test so that it prints what MySQL prints.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, l := range p {
		if l.IsIndex {
			b.WriteByte('[')
			if l.FromEnd {
				b.WriteString("last")
				if l.Index != 0 {
					b.WriteByte('-')
					b.WriteString(strconv.Itoa(l.Index))
				}
			} else {
				b.WriteString(strconv.Itoa(l.Index))
			}
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		if isBareMemberName(l.Key) {
			b.WriteString(l.Key)
		} else {
			writeMySQLQuoted(&b, l.Key)
		}
	}
	return b.String()
}

// pathParser reads a path expression left to right; pos is the byte
// offset of the next unread byte.
type pathParser struct {
	s   string
	pos int
}

// parsePathText is ParsePath without the package prefix on its errors.
func parsePathText(s string) (Path, error) {
	p := &pathParser{s: s}
	p.skipSpace()
	if p.pos >= len(s) || s[p.pos] != '$' {
		return nil, p.errorf("expected '$' to start the path, found %s", p.found())
	}
	p.pos++
	var path Path
	for {
		p.skipSpace()
		if p.pos >= len(s) {
			return path, nil
		}
		var (
			leg Leg
			err error
		)
		switch s[p.pos] {
		case '.':
			leg, err = p.memberLeg()
		case '[':
			leg, err = p.cellLeg()
		case '*':
			return nil, p.errorf("the ** wildcard is not allowed in a diff path")
		default:
			return nil, p.errorf("expected '.' or '[' to start a path leg, found %s", p.found())
		}
		if err != nil {
			return nil, err
		}
		path = append(path, leg)
	}
}

// errorf makes a parse error that quotes the path and names the offset.
func (p *pathParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON path %q at offset %d: %s", p.s, p.pos, fmt.Sprintf(format, args...))
}

// found describes the input at the current offset for an error.
func (p *pathParser) found() string {
	if p.pos >= len(p.s) {
		return "the end of the path"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return strconv.QuoteRune(r)
}

// skipSpace skips what MySQL takes as whitespace in a path (my_isspace
// in utf8mb4: tab, newline, vertical tab, form feed, carriage return and
// space).
func (p *pathParser) skipSpace() {
	for p.pos < len(p.s) && isPathSpace(p.s[p.pos]) {
		p.pos++
	}
}

func isPathSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// memberLeg parses .name or ."name"; the current byte is the '.'.
func (p *pathParser) memberLeg() (Leg, error) {
	p.pos++
	p.skipSpace()
	if p.pos >= len(p.s) {
		return Leg{}, p.errorf("expected a member name after '.'")
	}
	start := p.pos
	switch p.s[start] {
	case '*':
		return Leg{}, p.errorf("the .* wildcard is not allowed in a diff path")
	case '"':
		// A quoted name ends at the next double quote no backslash
		// escapes.
		end := -1
		for i := start + 1; i < len(p.s); i++ {
			if p.s[i] == '\\' {
				i++
				continue
			}
			if p.s[i] == '"' {
				end = i + 1
				break
			}
		}
		if end < 0 {
			return Leg{}, p.errorf("unterminated quoted member name")
		}
		key, err := decodePathString(p.s[start:end])
		if err != nil {
			return Leg{}, p.errorf("quoted member name %s: %v", p.s[start:end], err)
		}
		p.pos = end
		return Leg{Key: key}, nil
	}
	// An unquoted name runs to whitespace, '[', '.', '*' or the end; it
	// may hold JSON escapes, and once unescaped must be an identifier.
	end := start
	for end < len(p.s) && !isPathSpace(p.s[end]) && p.s[end] != '[' && p.s[end] != '.' && p.s[end] != '*' {
		end++
	}
	raw := p.s[start:end]
	if raw == "" {
		return Leg{}, p.errorf("expected a member name after '.', found %s", p.found())
	}
	key, err := decodePathString(`"` + raw + `"`)
	if err != nil {
		return Leg{}, p.errorf("member name %s: %v", raw, err)
	}
	if !isBareMemberName(key) {
		return Leg{}, p.errorf("member name %q is not an identifier to MySQL and must be double-quoted", key)
	}
	p.pos = end
	return Leg{Key: key}, nil
}

// cellLeg parses [N], [last] or [last-N]; the current byte is the '['.
func (p *pathParser) cellLeg() (Leg, error) {
	p.pos++
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '*' {
		return Leg{}, p.errorf("the [*] wildcard is not allowed in a diff path")
	}
	index, fromEnd, err := p.arrayIndex()
	if err != nil {
		return Leg{}, err
	}
	p.skipSpace()
	rest := p.s[p.pos:]
	if len(rest) > 2 && isPathSpace(p.s[p.pos-1]) && rest[0] == 't' && rest[1] == 'o' && isPathSpace(rest[2]) {
		return Leg{}, p.errorf("array ranges (M to N) are not allowed in a diff path")
	}
	if p.pos >= len(p.s) || p.s[p.pos] != ']' {
		return Leg{}, p.errorf("expected ']' after the array index, found %s", p.found())
	}
	p.pos++
	return Leg{Index: index, IsIndex: true, FromEnd: fromEnd}, nil
}

// arrayIndex parses N, last or last-N (whitespace allowed around the
// minus), as MySQL's parse_array_index does.
func (p *pathParser) arrayIndex() (index int, fromEnd bool, err error) {
	if strings.HasPrefix(p.s[p.pos:], "last") {
		p.pos += len("last")
		fromEnd = true
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '-' {
			return 0, true, nil
		}
		p.pos++
		p.skipSpace()
	}
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == start {
		if fromEnd {
			return 0, false, p.errorf("expected a number after 'last-', found %s", p.found())
		}
		return 0, false, p.errorf("expected an array index (N, last or last-N), found %s", p.found())
	}
	n, perr := strconv.ParseUint(p.s[start:p.pos], 10, 64)
	if perr != nil || n > maxPathIndex {
		p.pos = start
		return 0, false, p.errorf("array index %s is larger than %d", p.s[start:start+min(len(p.s)-start, 24)], uint64(maxPathIndex))
	}
	return int(n), fromEnd, nil
}

// decodePathString unquotes a double-quoted JSON string taken from a
// path, refusing what MySQL's parser refuses and encoding/json would
// quietly repair: invalid UTF-8 and lone surrogate escapes.
func decodePathString(quoted string) (string, error) {
	if off := invalidUTF8Offset(quoted); off >= 0 {
		return "", fmt.Errorf("not valid UTF-8 at byte %d of the name", off)
	}
	if err := checkSurrogateEscapes(quoted); err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal([]byte(quoted), &s); err != nil {
		return "", fmt.Errorf("not a valid JSON string: %v", err)
	}
	return s, nil
}

// isBareMemberName reports whether MySQL prints the member name without
// quotes (and accepts it unquoted): its is_ecmascript_identifier. Each
// code point is classed by MySQL's utf8mb4 ctype table looked up with
// the low byte of the code point, so every code point whose low byte is
// an ASCII letter or 0x80-0xFE is a "letter" and every one whose low
// byte is an ASCII digit a "digit"; see Path.String.
func isBareMemberName(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	first := true
	for _, r := range name {
		isFirst := first
		first = false
		if mysqlIsLetter(r) || r == '$' || r == '_' {
			continue
		}
		if isFirst {
			return false
		}
		switch {
		case r >= 0x300 && r <= 0x36F: // combining marks
		case mysqlIsDigit(r):
		case isConnectorPunctuation(r):
		case r == 0x200C || r == 0x200D: // ZWNJ, ZWJ
		default:
			return false
		}
	}
	return true
}

// mysqlIsLetter is MySQL's is_letter: not a combining mark, and a letter
// (upper or lower) in the utf8mb4 ctype table at the code point's low
// byte, where 0x80-0xFE are all letters.
func mysqlIsLetter(r rune) bool {
	if r >= 0x300 && r <= 0x36F {
		return false
	}
	b := byte(r)
	return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= 0x80 && b <= 0xFE)
}

// mysqlIsDigit is MySQL's is_digit: a digit in the utf8mb4 ctype table
// at the code point's low byte.
func mysqlIsDigit(r rune) bool {
	b := byte(r)
	return b >= '0' && b <= '9'
}

// isConnectorPunctuation is the Unicode connector punctuation MySQL
// allows after the first character of an identifier.
func isConnectorPunctuation(r rune) bool {
	switch r {
	case 0x5F, 0x203F, 0x2040, 0x2054, 0xFE33, 0xFE34, 0xFE4D, 0xFE4E, 0xFE4F, 0xFF3F:
		return true
	}
	return false
}

// writeMySQLQuoted writes s double-quoted as MySQL's double_quote does:
// backslash escapes for '"', '\\', \b, \t, \n, \f and \r, \u00xx (lower
// case hex) for other bytes below 0x20, every other byte as it is.
func writeMySQLQuoted(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xF])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}
