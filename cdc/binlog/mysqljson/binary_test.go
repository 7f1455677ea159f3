package mysqljson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// double1e300 is 1e300 as go-mysql writes a whole double: every digit of
// the double nearest 1e300, and ".0".
const double1e300 = "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.0"

// maxDouble is the largest double as go-mysql writes it.
const maxDouble = "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368.0"

// TestDecodeEncoded checks that Decode(EncodeText(doc)) is want, and
// that go-mysql decodes the same bytes to the same text.
func TestDecodeEncoded(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"a":{"b":[1,{"c":null}]},"list":[[],{}]}`, `{"a":{"b":[1,{"c":null}]},"list":[[],{}]}`},
		{`{"bb":1,"a":2,"c":3,"aaa":4,"é":5}`, `{"a":2,"c":3,"bb":1,"é":5,"aaa":4}`},
		{`[true,false,null]`, `[true,false,null]`},
		{`true`, `true`},
		{`false`, `false`},
		{`null`, `null`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`[[],{},[[]],{"a":{}}]`, `[[],{},[[]],{"a":{}}]`},
		{`0`, `0`},
		{`-0`, `0`},
		{`[32767,-32768,32768,-32769]`, `[32767,-32768,32768,-32769]`},
		{`{"a":2147483647,"b":-2147483648,"c":2147483648,"d":-2147483649}`, `{"a":2147483647,"b":-2147483648,"c":2147483648,"d":-2147483649}`},
		{`[9223372036854775807,-9223372036854775808]`, `[9223372036854775807,-9223372036854775808]`},
		{`[9223372036854775808,18446744073709551615]`, `[9223372036854775808,18446744073709551615]`},
		{`-9223372036854775809`, `-9223372036854775808.0`},
		{`[1.5,0.1,-2.25,3.141592653589793,123456.789]`, `[1.5,0.1,-2.25,3.141592653589793,123456.789]`},
		{`[1.0,-0.0,100.0,1e2,1e21]`, `[1.0,-0.0,100.0,100.0,1000000000000000000000.0]`},
		{`[1e-7,0.000015,1234567.5,5e-324,1.7976931348623157e308]`, `[1e-07,1.5e-05,1.2345675e+06,5e-324,` + maxDouble + `]`},
		{`1e300`, double1e300},
		{`18446744073709551616`, `18446744073709551616.0`},
		{`""`, `""`},
		{`"héllo 世界 😀"`, `"héllo 世界 😀"`},
		{`"\"\\\/\b\f\n\r\t\u0000\u0001\u001f\u007f"`, `"\"\\/\b\f\n\r\t\u0000\u0001\u001f` + "\x7f" + `"`},
		{`"<a&b>"`, `"\u003ca\u0026b\u003e"`},
		{`["\u2028\u2029"]`, `["\u2028\u2029"]`},
		{`{"<k>":"v","\n":1}`, `{"\n":1,"\u003ck\u003e":"v"}`},
		{`"` + strings.Repeat("ab", 100) + `"`, `"` + strings.Repeat("ab", 100) + `"`},
		{`["` + strings.Repeat("é", 9000) + `"]`, `["` + strings.Repeat("é", 9000) + `"]`},
	} {
		b, err := EncodeText(c.doc)
		if err != nil {
			t.Fatalf("EncodeText(%s): %v", c.doc, err)
		}
		checkDecode(t, c.doc, b, c.want, c.want)
	}
}

// checkDecode checks that Decode(b) is want and go-mysql's text is
// goMySQL: want too, but where go-mysql's text is not MySQL's.
func checkDecode(t *testing.T, name string, b []byte, want, goMySQL string) {
	t.Helper()
	if len(name) > 80 {
		name = name[:80] + "..."
	}
	got, err := Decode(b)
	if err != nil {
		t.Errorf("%s: Decode: %v", name, err)
	} else if got != want {
		t.Errorf("%s: Decode\n got %s\nwant %s", name, got, want)
	}
	if theirs := goMySQLDecode(t, b); theirs != goMySQL {
		t.Errorf("%s: go-mysql\n got %s\nwant %s", name, theirs, goMySQL)
	}
}

// TestLargeFormat checks documents past 64 KiB, whose outer array or
// object takes the large format while what fits in 64 KiB stays small.
func TestLargeFormat(t *testing.T) {
	big := strings.Repeat("x", 70000)
	obj := map[string]any{"big": big, "n": json.Number("1"), "i": json.Number("100000"), "u": json.Number("-70000"),
		"arr": []any{true, json.Number("70000"), json.Number("2")}}
	arr := []any{big, json.Number("100000"), nil, "s", map[string]any{"a": json.Number("1")}}
	for _, c := range []struct {
		v    any
		typ  byte
		want string
	}{
		{obj, typeLargeObject, `{"i":100000,"n":1,"u":-70000,"arr":[true,70000,2],"big":"` + big + `"}`},
		{arr, typeLargeArray, `["` + big + `",100000,null,"s",{"a":1}]`},
		// {"s": 65520 bytes} is 65535 bytes, the most a small object has.
		{map[string]any{"s": big[:65520]}, typeSmallObject, `{"s":"` + big[:65520] + `"}`},
		{map[string]any{"s": big[:65521]}, typeLargeObject, `{"s":"` + big[:65521] + `"}`},
		// ["65525 bytes"] is 65535 bytes.
		{[]any{big[:65525]}, typeSmallArray, `["` + big[:65525] + `"]`},
		{[]any{big[:65526]}, typeLargeArray, `["` + big[:65526] + `"]`},
	} {
		b, err := Encode(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != c.typ {
			t.Errorf("%.40s: type %#x, want %#x", c.want, b[0], c.typ)
		}
		checkDecode(t, c.want, b, c.want, c.want)
	}
	// In the large object, the array "arr" (value entry 3 of 5: the keys
	// go i, n, u, arr, big; after the 8-byte header and 5 6-byte key
	// entries) is a small array.
	b, _ := Encode(obj)
	if e := 1 + 8 + 5*6 + 3*5; b[e] != typeSmallArray {
		t.Errorf("the large object's array has type %#x, want a small array", b[e])
	}
}

// Documents built by hand from json_binary.h's description, not by
// Encode.
var (
	// {"a":1}: count 1, size 12, key entry (offset 11, length 1), value
	// entry (int16 inline: 1), the key.
	fixtureObject = []byte{0x00, 1, 0, 12, 0, 11, 0, 1, 0, 0x05, 1, 0, 'a'}
	// [true,null]: count 2, size 10, two inline literals.
	fixtureArray = []byte{0x02, 2, 0, 10, 0, 0x04, 1, 0, 0x04, 0, 0}
	// {"a":70000} large: count 1, size 20, key entry (offset 19, length
	// 1), value entry (int32 inline in the large format), the key.
	fixtureLarge = []byte{0x01, 1, 0, 0, 0, 20, 0, 0, 0, 19, 0, 0, 0, 1, 0, 0x07, 0x70, 0x11, 0x01, 0x00, 'a'}
	// [65535,4294967295,70000]: a uint16 inline, a uint32 and an int32 at
	// offsets (a small array inlines neither).
	fixtureUnsigned = []byte{0x02, 3, 0, 21, 0, 0x06, 0xff, 0xff, 0x08, 13, 0, 0x07, 17, 0,
		0xff, 0xff, 0xff, 0xff, 0x70, 0x11, 0x01, 0x00}
)

func TestFixtures(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"object", fixtureObject, `{"a":1}`},
		{"array", fixtureArray, `[true,null]`},
		{"large object", fixtureLarge, `{"a":70000}`},
		{"unsigned", fixtureUnsigned, `[65535,4294967295,70000]`},
		{"string", []byte{0x0c, 5, 'h', 'e', 'l', 'l', 'o'}, `"hello"`},
		{"invalid UTF-8", []byte{0x0c, 3, 0xff, 'a', 0xfe}, "\"\xffa\xfe\""},
		{"int64", []byte{0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `-1`},
		{"uint64", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `18446744073709551615`},
		{"trailing bytes", append(bytes.Clone(fixtureArray), 0xde, 0xad), `[true,null]`},
	} {
		checkDecode(t, c.name, c.b, c.want, c.want)
	}
	for _, c := range []struct {
		text string
		b    []byte
	}{{`{"a":1}`, fixtureObject}, {`[true,null]`, fixtureArray}} {
		if b, err := EncodeText(c.text); err != nil || !bytes.Equal(b, c.b) {
			t.Errorf("EncodeText(%s) = % x, %v; want % x", c.text, b, err, c.b)
		}
	}
}

func TestOpaque(t *testing.T) {
	blob := bytes.Repeat([]byte{0xfb, 0xef, 0xbe}, 20) // 60 bytes: 80 base64 characters
	for _, c := range []struct {
		name          string
		b             []byte
		want, goMySQL string // goMySQL "" means want
	}{
		{"decimal", opaque(fieldDecimal, decimal(t, "123.45", 5, 2)), `123.45`, ""},
		{"negative decimal", opaque(fieldDecimal, decimal(t, "-123.45", 5, 2)), `-123.45`, ""},
		{"decimal scale", opaque(fieldDecimal, decimal(t, "0.50", 3, 2)), `0.50`, ""},
		{"decimal no integer digits", opaque(fieldDecimal, decimal(t, "-0.5", 1, 1)), `-0.5`, ""},
		{"decimal groups", opaque(fieldDecimal, decimal(t, "1234567890.0123456789", 20, 10)), `1234567890.0123456789`, ""},
		{"decimal zeros", opaque(fieldDecimal, decimal(t, "1000000000.000000001", 20, 9)), `1000000000.000000001`, ""},
		{"decimal 65 digits", opaque(fieldDecimal, decimal(t, strings.Repeat("9", 35)+"."+strings.Repeat("9", 30), 65, 30)),
			strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), ""},
		{"decimal zero", opaque(fieldDecimal, decimal(t, "0", 1, 0)), `0`, ""},
		{"datetime", opaque(fieldDatetime, packedDatetime(2024, 1, 2, 3, 4, 5, 0)), `"2024-01-02 03:04:05.000000"`, ""},
		{"datetime micro", opaque(fieldDatetime, packedDatetime(1999, 12, 31, 23, 59, 59, 123456)), `"1999-12-31 23:59:59.123456"`, ""},
		{"timestamp", opaque(fieldTimestamp, packedDatetime(2038, 1, 19, 3, 14, 7, 500)), `"2038-01-19 03:14:07.000500"`, ""},
		{"date", opaque(fieldDate, packedDatetime(2024, 1, 2, 0, 0, 0, 0)), `"2024-01-02"`, ""},
		{"zero date", opaque(fieldDate, packedDatetime(0, 0, 0, 0, 0, 0, 0)), `"0000-00-00"`, ""},
		{"time", opaque(fieldTime, packedTime(false, 12, 34, 56, 0)), `"12:34:56.000000"`, ""},
		{"negative time", opaque(fieldTime, packedTime(true, 838, 59, 59, 10)), `"-838:59:59.000010"`, ""},
		{"bit", opaque(16, []byte{1, 2, 3}), `"base64:type16:AQID"`, ""},
		{"blob of 76 characters", opaque(252, blob[:57]), `"base64:type252:` + b64(blob[:57]) + `"`, ""},
		{"array", smallArray(opaque(fieldDecimal, decimal(t, "1.5", 2, 1)), opaque(fieldTime, packedTime(false, 1, 2, 3, 4)), []byte{0x04, 0x01}),
			`[1.5,"01:02:03.000004",true]`, ""},
		// Where go-mysql's text is not MySQL's, Decode's is MySQL's.
		{"zero time", opaque(fieldTime, packedTime(false, 0, 0, 0, 0)), `"00:00:00.000000"`, `"00:00:00"`},
		{"zero datetime", opaque(fieldDatetime, packedDatetime(0, 0, 0, 0, 0, 0, 0)), `"0000-00-00 00:00:00.000000"`, `"0000-00-00 00:00:00"`},
		{"blob of 80 characters", opaque(252, blob), `"base64:type252:` + b64(blob[:57]) + `\n` + b64(blob[57:]) + `"`,
			`"base64:type252:` + b64(blob) + `"`},
	} {
		if c.goMySQL == "" {
			c.goMySQL = c.want
		}
		checkDecode(t, c.name, c.b, c.want, c.goMySQL)
	}
}

// opaque returns a document of one opaque value of field type field.
func opaque(field byte, data []byte) []byte {
	return append(appendVarLength([]byte{typeOpaque, field}, len(data)), data...)
}

// b64 is b in standard base64.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// smallArray returns a small array of docs (each a type byte and
// value), literals inline.
func smallArray(docs ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint16([]byte{typeSmallArray}, uint16(len(docs)))
	size := 4 + 3*len(docs)
	for _, d := range docs {
		if d[0] != typeLiteral {
			size += len(d) - 1
		}
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(size))
	next := 4 + 3*len(docs)
	for _, d := range docs {
		if d[0] == typeLiteral {
			b = append(b, d[0], d[1], 0)
			continue
		}
		b = binary.LittleEndian.AppendUint16(append(b, d[0]), uint16(next))
		next += len(d) - 1
	}
	for _, d := range docs {
		if d[0] != typeLiteral {
			b = append(b, d[1:]...)
		}
	}
	return b
}

// decimal returns the JSON DECIMAL of s, of precision prec and scale
// scale: both, and s in MySQL's binary decimal format (decimal2bin).
func decimal(t *testing.T, s string, prec, scale int) []byte {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	intg := prec - scale
	if intPart == "0" {
		intPart = ""
	}
	if len(intPart) > intg || len(frac) > scale {
		t.Fatalf("%s does not fit decimal(%d,%d)", s, prec, scale)
	}
	intPart = strings.Repeat("0", intg-len(intPart)) + intPart
	frac += strings.Repeat("0", scale-len(frac))
	var groups []string // the integer part's first group is the short one
	if n := intg % 9; n > 0 {
		groups = append(groups, intPart[:n])
	}
	for i := intg % 9; i < intg; i += 9 {
		groups = append(groups, intPart[i:i+9])
	}
	for i := 0; i < scale; i += 9 {
		groups = append(groups, frac[i:min(i+9, scale)])
	}
	var bin []byte
	for _, g := range groups {
		var x uint64
		for _, c := range g {
			x = x*10 + uint64(c-'0')
		}
		n := digitBytes[len(g)]
		for i := n - 1; i >= 0; i-- {
			bin = append(bin, byte(x>>(8*i)))
		}
	}
	if neg {
		for i := range bin {
			bin[i] = ^bin[i]
		}
	}
	bin[0] ^= 0x80
	return append([]byte{byte(prec), byte(scale)}, bin...)
}

// packedDatetime packs a date and time as MySQL packs a DATETIME.
func packedDatetime(year, month, day, hour, minute, second, micro int64) []byte {
	ymd := (year*13+month)<<5 | day
	hms := hour<<12 | minute<<6 | second
	return binary.LittleEndian.AppendUint64(nil, uint64((ymd<<17|hms)<<24|micro))
}

// packedTime packs a time as MySQL packs a TIME.
func packedTime(neg bool, hour, minute, second, micro int64) []byte {
	v := (hour<<12|minute<<6|second)<<24 | micro
	if neg {
		v = -v
	}
	return binary.LittleEndian.AppendUint64(nil, uint64(v))
}

func TestEncodeNumbers(t *testing.T) {
	for _, c := range []struct {
		n   string
		typ byte
	}{
		{"1", typeInt16}, {"-0", typeInt16}, {"-32768", typeInt16}, {"32768", typeInt32}, {"-2147483648", typeInt32},
		{"2147483648", typeInt64}, {"-9223372036854775808", typeInt64}, {"9223372036854775808", typeUint64},
		{"18446744073709551616", typeDouble}, {"-9223372036854775809", typeDouble},
		{"1.0", typeDouble}, {"1e2", typeDouble}, {"1E-2", typeDouble}, {"-0.0", typeDouble},
	} {
		b, err := Encode(json.Number(c.n))
		if err != nil || b[0] != c.typ {
			t.Errorf("Encode(%s) = % x, %v; want type %#x", c.n, b, err, c.typ)
		}
	}
	if b, _ := Encode(json.Number("-0.0")); math.Float64frombits(binary.LittleEndian.Uint64(b[1:])) != 0 || b[8] != 0x80 {
		t.Errorf("Encode(-0.0) = % x, want a negative zero", b)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, v := range []any{1.5, 1, json.Number("1e400"), json.Number("0x10"), json.Number(""), json.Number("1 2"),
		[]any{map[string]any{"a": []string{"b"}}}, map[string]any{strings.Repeat("k", 65536): true}} {
		if b, err := Encode(v); err == nil {
			t.Errorf("Encode(%.40v) = % .20x, want an error", v, b)
		}
	}
	for _, s := range []string{``, `[`, `{"a":}`, `1 2`, `[] x`, `1e400`} {
		if b, err := EncodeText(s); err == nil {
			t.Errorf("EncodeText(%s) = % x, want an error", s, b)
		}
	}
}

// corruptible are valid documents of every kind, for the tests that cut
// and garble them.
func corruptible(t *testing.T) [][]byte {
	nested, err := EncodeText(`{"a":[1,-70000,2.5,"s",{"k":[true,null]}],"bb":{"c":"é"},"d":9223372036854775807,"e":18446744073709551615}`)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{nested, fixtureObject, fixtureArray, fixtureLarge, fixtureUnsigned,
		{0x0c, 2, 'h', 'i'}, {0x05, 1, 0}, {0x0b, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f},
		opaque(fieldDecimal, decimal(t, "-1234567890.0123456789", 20, 10)),
		opaque(fieldDatetime, packedDatetime(2024, 1, 2, 3, 4, 5, 6)),
		opaque(fieldTime, packedTime(true, 1, 2, 3, 4)),
		opaque(252, bytes.Repeat([]byte{7}, 200)),
		smallArray(opaque(fieldDecimal, decimal(t, "1.5", 2, 1)), opaque(fieldDate, packedDatetime(2024, 1, 2, 0, 0, 0, 0)), []byte{0x04, 0x02}),
	}
}

func TestTruncated(t *testing.T) {
	big, err := Encode([]any{strings.Repeat("x", 70000), map[string]any{"a": []any{json.Number("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range append(corruptible(t), big) {
		if _, err := Decode(doc); err != nil {
			t.Fatalf("Decode(% .40x): %v", doc, err)
		}
		for n := range len(doc) {
			if s, err := Decode(doc[:n]); err == nil {
				t.Errorf("Decode(% .40x) = %.40s, want an error", doc[:n], s)
			}
		}
	}
}

// TestGarbled changes every byte of valid documents to values that
// matter to the format: Decode must return, text or error, not panic.
func TestGarbled(t *testing.T) {
	for _, doc := range corruptible(t) {
		for i := range doc {
			for _, v := range []byte{0, 1, 2, 3, 4, 7, 0x0f, 0x7f, 0x80, 0xff, doc[i] + 1, doc[i] - 1} {
				b := bytes.Clone(doc)
				b[i] = v
				Decode(b)
			}
		}
	}
}

func TestCorrupt(t *testing.T) {
	set := func(b []byte, i int, v ...byte) []byte {
		b = bytes.Clone(b)
		copy(b[i:], v)
		return b
	}
	// bomb is 40 nested arrays each of whose 2 entries point to the same
	// array in it: 2^40 empty arrays, were the decoder to follow them all.
	bomb := []byte{0, 0, 4, 0}
	for range 40 {
		b := []byte{2, 0, byte(10 + len(bomb)), byte((10 + len(bomb)) >> 8), 0x02, 10, 0, 0x02, 10, 0}
		bomb = append(b, bomb...)
	}
	bomb = append([]byte{typeSmallArray}, bomb...)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "mysqljson: empty document"},
		{"type", []byte{0x0d}, "mysqljson: value at offset 1: unknown type 0xd"},
		{"key offset", set(fixtureObject, 5, 0x84, 0x03), "mysqljson: small object at offset 1: key 0 offset 900 beyond the value's 12 bytes (the key has 1)"},
		{"key in header", set(fixtureObject, 5, 3), "mysqljson: small object at offset 1: key 0 offset 3 inside the 11-byte header"},
		{"size", set(fixtureArray, 3, 100), "mysqljson: small array at offset 1: size 100 beyond the 10 bytes left"},
		{"small size", set(fixtureArray, 3, 3), "mysqljson: small array at offset 1: size 3 smaller than its count and size"},
		{"count", set(fixtureArray, 1, 4), "mysqljson: small array at offset 1: 4 entries of 3 bytes beyond the value's 10 bytes"},
		{"large count", set(fixtureLarge, 1, 0xff, 0xff, 0xff, 0xff), "mysqljson: large object at offset 1: 4294967295 entries of 11 bytes beyond the value's 20 bytes"},
		{"value in header", []byte{0x02, 1, 0, 7, 0, 0x02, 0, 0}, "mysqljson: small array at offset 1: value 0 offset 0 outside the value's bytes 7 to 7"},
		{"literal", []byte{0x04, 3}, "mysqljson: literal at offset 1: 0x3 is not null (0), true (1) or false (2)"},
		{"inline literal", set(fixtureArray, 9, 9), "mysqljson: literal at offset 9: 0x9 is not null (0), true (1) or false (2)"},
		{"int64", []byte{0x09, 1, 2}, "mysqljson: int64 at offset 1: 2 bytes left, it needs 8"},
		{"unterminated length", []byte{0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0}, "mysqljson: string at offset 1: length unterminated in 5 bytes"},
		{"length", []byte{0x0c, 0xff, 0xff, 0xff, 0xff, 0x7f}, "mysqljson: string at offset 1: length 34359738367 beyond 4294967295"},
		{"string", []byte{0x0c, 5, 'a'}, "mysqljson: string at offset 1: 5 bytes beyond the 1 left"},
		{"opaque", []byte{0x0f}, "mysqljson: opaque value at offset 1: no field type"},
		{"opaque length", []byte{0x0f, 252, 3, 1}, "mysqljson: opaque value of field type 252 at offset 1: 3 bytes beyond the 1 left"},
		{"datetime", opaque(fieldDatetime, []byte{1, 2, 3}), "mysqljson: opaque value of field type 12 at offset 1: 3 bytes, a packed time needs 8"},
		{"decimal", opaque(fieldDecimal, []byte{5}), "mysqljson: opaque value of field type 246 at offset 1: 1 bytes, a decimal's precision and scale need 2"},
		{"decimal scale", opaque(fieldDecimal, []byte{1, 2, 0x80}), "mysqljson: opaque value of field type 246 at offset 1: decimal scale 2 above its precision 1"},
		{"decimal size", opaque(fieldDecimal, []byte{5, 2, 0x80}), "mysqljson: opaque value of field type 246 at offset 1: decimal(5,2) of 1 bytes, it needs 3"},
		{"decimal digits", opaque(fieldDecimal, []byte{1, 0, 0x8a}), "mysqljson: opaque value of field type 246 at offset 1: decimal(1,0) has 10 in a group of 1 digits"},
		{"nested", smallArray([]byte{0x0c, 9, 'a'}), "mysqljson: string at offset 8: 9 bytes beyond the 1 left"},
		{"shared", bomb, "so entries share values"},
		{"deep", nested(maxDepth + 1), "nested in more than 1000 arrays and objects"},
	} {
		s, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Decode(% .40x) = %.40s, %v; want error %q", c.name, c.b, s, err, c.want)
		}
	}
	if s, err := Decode(nested(maxDepth)); err != nil || s != strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth) {
		t.Errorf("Decode(%d nested arrays) = %.40s, %v", maxDepth, s, err)
	}
}

// nested returns n arrays, each in the one before.
func nested(n int) []byte {
	b := []byte{0, 0, 4, 0}
	for range n - 1 {
		l := 7 + len(b)
		b = append([]byte{1, 0, byte(l), byte(l >> 8), typeSmallArray, 7, 0}, b...)
	}
	return append([]byte{typeSmallArray}, b...)
}

func TestEncodeDepth(t *testing.T) {
	var v any = []any{}
	for range maxDepth - 1 {
		v = []any{v}
	}
	if _, err := Encode(v); err != nil {
		t.Errorf("Encode(%d nested arrays): %v", maxDepth, err)
	}
	if _, err := Encode([]any{v}); err == nil {
		t.Errorf("Encode(%d nested arrays): no error", maxDepth+1)
	}
}

// TestAgreesWithGoMySQL decodes random documents, built by Encode and by
// hand, with Decode and go-mysql: the texts must be the same. (The
// documents hold no zero TIME or DATETIME and no base64 of over 76
// characters, where Decode writes MySQL's text instead.)
func TestAgreesWithGoMySQL(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var b []byte
		if i%2 == 0 {
			var err error
			if b, err = Encode(randomValue(r, 0)); err != nil {
				t.Fatal(err)
			}
		} else {
			docs := make([][]byte, 1+r.IntN(3))
			for j := range docs {
				docs[j] = randomScalar(t, r)
			}
			b = smallArray(docs...)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(% x): %v", b, err)
		}
		if want := goMySQLDecode(t, b); got != want {
			t.Errorf("Decode(% x)\n got %q\ngo-mysql %q", b, got, want)
		}
	}
}

// randomString returns a string of bytes JSON text escapes, and others.
func randomString(r *rand.Rand) string {
	parts := []string{"a", "é", "😀", "<", ">", "&", `"`, `\`, "/", "\n", "\x00", "\x1f", "\x7f", "\xff", "\u2028", "\u2029", "\u2027", "\xe2\x80"}
	var b strings.Builder
	for range r.IntN(10) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// randomValue returns a random value of the kinds Encode takes.
func randomValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(9); {
	case k == 0 && depth < 4:
		a := make([]any, r.IntN(5))
		for i := range a {
			a[i] = randomValue(r, depth+1)
		}
		return a
	case k == 1 && depth < 4:
		m := map[string]any{}
		for range r.IntN(5) {
			m[randomString(r)] = randomValue(r, depth+1)
		}
		return m
	case k == 2:
		return []any{nil, true, false}[r.IntN(3)]
	case k == 3:
		return randomString(r)
	case k == 4:
		return json.Number(strconv.FormatInt(r.Int64()>>r.IntN(64)*int64(1-2*r.IntN(2)), 10))
	case k == 5:
		return json.Number(strconv.FormatUint(r.Uint64(), 10))
	}
	f := r.NormFloat64() * []float64{1, 1e-10, 1e6, 1e15, 1e17, 1e21, 1e300, 1e-300}[r.IntN(8)]
	if r.IntN(3) == 0 {
		f = math.Trunc(f)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// randomScalar returns a document of a double of random bits, or of a
// random opaque value: DECIMAL, a non-zero TIME, DATE, DATETIME or
// TIMESTAMP, or a value of another type in up to 57 bytes.
func randomScalar(t *testing.T, r *rand.Rand) []byte {
	bits := binary.LittleEndian.AppendUint64(nil, r.Uint64()>>r.IntN(64)|1)
	switch r.IntN(5) {
	case 0:
		return append([]byte{typeDouble}, bits...)
	case 1:
		return opaque([]byte{fieldTime, fieldDate, fieldDatetime, fieldTimestamp}[r.IntN(4)], bits)
	case 2:
		v := []byte(randomString(r))
		field := []byte{1, 13, 15, 16, 245, 252, 253, 254, 255}[r.IntN(9)]
		return opaque(field, v[:min(len(v), 57)])
	}
	prec := 1 + r.IntN(65)
	scale := r.IntN(min(prec, 30) + 1)
	digits := []byte(strconv.Itoa(r.IntN(2)))
	for range prec - 1 {
		digits = append(digits, byte('0'+r.IntN(10)))
	}
	s := strings.TrimLeft(string(digits[:prec-scale]), "0") + "." + string(digits[prec-scale:])
	if r.IntN(2) == 0 {
		s = "-" + s
	}
	return opaque(fieldDecimal, decimal(t, strings.TrimSuffix(s, "."), prec, scale))
}
