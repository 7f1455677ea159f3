package mysqljson_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/regionplatform/region/cdc/binlog/mysqljson"
)

// applyCase is one Apply table case: the before image, the diffs, and
// either the after image or a substring of every part the error must
// contain.
type applyCase struct {
	name  string
	doc   string
	diffs []mysqljson.Diff
	want  string
	// wantErr, if set, lists substrings the error must contain.
	wantErr []string
}

func rep(path, value string) mysqljson.Diff {
	return mysqljson.Diff{Op: mysqljson.Replace, Path: path, Value: value}
}

func ins(path, value string) mysqljson.Diff {
	return mysqljson.Diff{Op: mysqljson.Insert, Path: path, Value: value}
}

func rem(path string) mysqljson.Diff {
	return mysqljson.Diff{Op: mysqljson.Remove, Path: path}
}

// mysqlDocCases are examples from the MySQL 8.0 Reference Manual,
// "Functions That Modify JSON Values"
// (https://dev.mysql.com/doc/refman/8.0/en/json-modification-functions.html),
// each function call written as the diffs it amounts to and its result
// as the manual prints it, re-spaced into the compact form. The manual's
// SQL string values ('x', '[true, false]') are JSON strings here.
var mysqlDocCases = []applyCase{
	{
		// SET @j = '{ "a": 1, "b": [2, 3]}';
		// JSON_SET(@j, '$.a', 10, '$.c', '[true, false]')
		// -> {"a": 10, "b": [2, 3], "c": "[true, false]"}
		name:  "manual JSON_SET",
		doc:   `{ "a": 1, "b": [2, 3]}`,
		diffs: []mysqljson.Diff{rep("$.a", "10"), ins("$.c", `"[true, false]"`)},
		want:  `{"a":10,"b":[2,3],"c":"[true, false]"}`,
	},
	{
		// JSON_INSERT(@j, '$.a', 10, '$.c', '[true, false]')
		// -> {"a": 1, "b": [2, 3], "c": "[true, false]"}
		name: "manual JSON_INSERT",
		doc:  `{ "a": 1, "b": [2, 3]}`,
		// MySQL logs only the pair that changed the document.
		diffs: []mysqljson.Diff{ins("$.c", `"[true, false]"`)},
		want:  `{"a":1,"b":[2,3],"c":"[true, false]"}`,
	},
	{
		// JSON_REPLACE(@j, '$.a', 10, '$.c', '[true, false]')
		// -> {"a": 10, "b": [2, 3]}
		name: "manual JSON_REPLACE",
		doc:  `{ "a": 1, "b": [2, 3]}`,
		// MySQL logs only the pair that changed the document.
		diffs: []mysqljson.Diff{rep("$.a", "10")},
		want:  `{"a":10,"b":[2,3]}`,
	},
	{
		// SET @j = '["a", ["b", "c"], "d"]';
		// JSON_REMOVE(@j, '$[1]') -> ["a", "d"]
		name:  "manual JSON_REMOVE",
		doc:   `["a", ["b", "c"], "d"]`,
		diffs: []mysqljson.Diff{rem("$[1]")},
		want:  `["a","d"]`,
	},
	{
		// SET @j = '["a", {"b": [1, 2]}, [3, 4]]';
		// JSON_ARRAY_INSERT(@j, '$[1]', 'x') -> ["a", "x", {"b": [1, 2]}, [3, 4]]
		name:  "manual JSON_ARRAY_INSERT $[1]",
		doc:   `["a", {"b": [1, 2]}, [3, 4]]`,
		diffs: []mysqljson.Diff{ins("$[1]", `"x"`)},
		want:  `["a","x",{"b":[1,2]},[3,4]]`,
	},
	{
		// JSON_ARRAY_INSERT(@j, '$[100]', 'x') -> ["a", {"b": [1, 2]}, [3, 4], "x"]
		name:  "manual JSON_ARRAY_INSERT past the end",
		doc:   `["a", {"b": [1, 2]}, [3, 4]]`,
		diffs: []mysqljson.Diff{ins("$[100]", `"x"`)},
		want:  `["a",{"b":[1,2]},[3,4],"x"]`,
	},
	{
		// JSON_ARRAY_INSERT(@j, '$[1].b[0]', 'x') -> ["a", {"b": ["x", 1, 2]}, [3, 4]]
		name:  "manual JSON_ARRAY_INSERT nested",
		doc:   `["a", {"b": [1, 2]}, [3, 4]]`,
		diffs: []mysqljson.Diff{ins("$[1].b[0]", `"x"`)},
		want:  `["a",{"b":["x",1,2]},[3,4]]`,
	},
	{
		// JSON_ARRAY_INSERT(@j, '$[2][1]', 'y') -> ["a", {"b": [1, 2]}, [3, "y", 4]]
		name:  "manual JSON_ARRAY_INSERT $[2][1]",
		doc:   `["a", {"b": [1, 2]}, [3, 4]]`,
		diffs: []mysqljson.Diff{ins("$[2][1]", `"y"`)},
		want:  `["a",{"b":[1,2]},[3,"y",4]]`,
	},
	{
		// JSON_ARRAY_INSERT(@j, '$[0]', 'x', '$[2][1]', 'y')
		// -> ["x", "a", {"b": [1, 2]}, [3, 4]]
		// The second pair meets the object {"b": [1, 2]} at $[2] and
		// JSON_ARRAY_INSERT ignores it. No partial update logs such a
		// diff (MySQL's own applier rejects one), so as a diff it means
		// the before image and the diffs disagree: Apply reports it.
		name:    "manual JSON_ARRAY_INSERT second pair on an object",
		doc:     `["a", {"b": [1, 2]}, [3, 4]]`,
		diffs:   []mysqljson.Diff{ins("$[0]", `"x"`), ins("$[2][1]", `"y"`)},
		wantErr: []string{"diffs[1]", `"$[2][1]"`, "the value at $[2] is an object", "[1]"},
	},
}

var applyCases = []applyCase{
	// Objects.
	{name: "object replace", doc: `{"a":1,"b":2}`, diffs: []mysqljson.Diff{rep("$.a", `{"x":[true,null]}`)}, want: `{"a":{"x":[true,null]},"b":2}`},
	// A diff that would change nothing is never logged: an error.
	{name: "object replace missing member", doc: `{"a":1}`, diffs: []mysqljson.Diff{rep("$.b", "2")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "object insert", doc: `{"a":1}`, diffs: []mysqljson.Diff{ins("$.b", `"two"`)}, want: `{"a":1,"b":"two"}`},
	{name: "object insert existing member", doc: `{"a":1}`, diffs: []mysqljson.Diff{ins("$.a", "2")}, wantErr: []string{"diffs[0]", "is there already"}},
	{name: "object remove", doc: `{"a":1,"b":2}`, diffs: []mysqljson.Diff{rem("$.a")}, want: `{"b":2}`},
	{name: "object remove missing member", doc: `{"a":1}`, diffs: []mysqljson.Diff{rem("$.b")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "object remove last member", doc: `{"a":1}`, diffs: []mysqljson.Diff{rem("$.a")}, want: `{}`},
	{name: "object insert into empty", doc: `{}`, diffs: []mysqljson.Diff{ins("$.a", "[]")}, want: `{"a":[]}`},

	// Arrays.
	{name: "array replace", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rep("$[1]", `"b"`)}, want: `[1,"b",3]`},
	{name: "array replace past the end", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rep("$[3]", "4")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "array replace last", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rep("$[last]", "9")}, want: `[1,2,9]`},
	{name: "array replace last-2", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rep("$[last-2]", "9")}, want: `[9,2,3]`},
	{name: "array replace last-3 before the start", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rep("$[last-3]", "9")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "array insert at 0", doc: `[1,2,3]`, diffs: []mysqljson.Diff{ins("$[0]", "0")}, want: `[0,1,2,3]`},
	{name: "array insert in the middle", doc: `[1,2,3]`, diffs: []mysqljson.Diff{ins("$[2]", `"m"`)}, want: `[1,2,"m",3]`},
	{name: "array insert at the end", doc: `[1,2,3]`, diffs: []mysqljson.Diff{ins("$[3]", "4")}, want: `[1,2,3,4]`},
	{name: "array insert past the end appends", doc: `[1,2,3]`, diffs: []mysqljson.Diff{ins("$[4294967295]", "4")}, want: `[1,2,3,4]`},
	{name: "array insert into empty", doc: `[]`, diffs: []mysqljson.Diff{ins("$[5]", "1")}, want: `[1]`},
	{name: "array insert at last goes before the last", doc: `[1,2,3]`, diffs: []mysqljson.Diff{ins("$[last]", "9")}, want: `[1,2,9,3]`},
	{name: "array insert last into empty", doc: `[]`, diffs: []mysqljson.Diff{ins("$[last]", "9")}, want: `[9]`},
	{name: "array insert last-N before the start prepends", doc: `[1,2]`, diffs: []mysqljson.Diff{ins("$[last-5]", "9")}, want: `[9,1,2]`},
	{name: "array remove first", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rem("$[0]")}, want: `[2,3]`},
	{name: "array remove last", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rem("$[last]")}, want: `[1,2]`},
	{name: "array remove past the end", doc: `[1,2,3]`, diffs: []mysqljson.Diff{rem("$[3]")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "array remove from empty", doc: `[]`, diffs: []mysqljson.Diff{rem("$[last]")}, wantErr: []string{"diffs[0]", "names no value"}},
	{name: "array remove the only element", doc: `{"a":[1]}`, diffs: []mysqljson.Diff{rem("$.a[0]")}, want: `{"a":[]}`},

	// Nested paths.
	{
		name:  "nested replace",
		doc:   `{"a":{"b":[{"c":1},{"c":2}]}}`,
		diffs: []mysqljson.Diff{rep("$.a.b[1].c", `"two"`)},
		want:  `{"a":{"b":[{"c":1},{"c":"two"}]}}`,
	},
	{
		name:  "nested insert into an array inside an array",
		doc:   `{"m":[[1,2],[3,4]]}`,
		diffs: []mysqljson.Diff{ins("$.m[1][1]", "3.5")},
		want:  `{"m":[[1,2],[3,3.5,4]]}`,
	},
	{
		name:  "nested remove",
		doc:   `{"a":{"b":{"c":1,"d":2}}}`,
		diffs: []mysqljson.Diff{rem("$.a.b.c")},
		want:  `{"a":{"b":{"d":2}}}`,
	},
	{name: "nested missing member", doc: `{"a":{}}`, diffs: []mysqljson.Diff{rep("$.a.b.c", "1")}, wantErr: []string{"diffs[0]", "$.a.b names no value"}},
	{name: "nested missing element", doc: `{"a":[1]}`, diffs: []mysqljson.Diff{ins("$.a[3].b", "1")}, wantErr: []string{"diffs[0]", "$.a[3] names no value"}},
	{name: "nested remove under a missing member", doc: `{"a":1}`, diffs: []mysqljson.Diff{rem("$.x[0].y")}, wantErr: []string{"diffs[0]", "$.x names no value"}},
	{
		name:  "whitespace in the path",
		doc:   `{"a":[1,[2,3]]}`,
		diffs: []mysqljson.Diff{rep(" $ . a [ 1 ] [ last - 1 ] ", "7")},
		want:  `{"a":[1,[7,3]]}`,
	},

	// Quoted keys.
	{
		name:  "quoted key with spaces",
		doc:   `{"key with spaces":1,"a":2}`,
		diffs: []mysqljson.Diff{rep(`$."key with spaces"`, "10")},
		want:  `{"a":2,"key with spaces":10}`,
	},
	{
		name:  "quoted key with a dot is one member",
		doc:   `{"a.b":1,"a":{"b":2}}`,
		diffs: []mysqljson.Diff{rep(`$."a.b"`, "10"), rep("$.a.b", "20")},
		want:  `{"a":{"b":20},"a.b":10}`,
	},
	{
		name:  "quoted key with escapes",
		doc:   `{"say \"hi\"\\now":1}`,
		diffs: []mysqljson.Diff{ins(`$."tab\there"`, "2"), rep(`$."say \"hi\"\\now"`, "3")},
		want:  `{"tab\there":2,"say \"hi\"\\now":3}`,
	},
	{
		name:  "quoted empty key",
		doc:   `{"":1}`,
		diffs: []mysqljson.Diff{rep(`$.""`, "2")},
		want:  `{"":2}`,
	},
	{
		name:  "quoted key that MySQL does not take bare",
		doc:   `{"1st":1,"ключ":2}`,
		diffs: []mysqljson.Diff{rem(`$."1st"`), rep(`$."ключ"`, `"значение"`)},
		want:  `{"ключ":"значение"}`,
	},
	{
		name:  "unquoted key with a unicode escape",
		doc:   `{"ab":1}`,
		diffs: []mysqljson.Diff{rep(`$.a\u0062`, "2")},
		want:  `{"ab":2}`,
	},

	// Member order: by length, then bytewise.
	{
		name:  "insert keys of different lengths",
		doc:   `{"bb":1}`,
		diffs: []mysqljson.Diff{ins("$.ccc", "3"), ins("$.a", "0"), ins("$.aa", "2"), ins("$.Z", "-1"), ins("$.b", "1")},
		want:  `{"Z":-1,"a":0,"b":1,"aa":2,"bb":1,"ccc":3}`,
	},
	{
		name:  "order uses byte length of UTF-8 names",
		doc:   `{"é":1,"ab":2,"z":3}`,
		diffs: []mysqljson.Diff{ins("$.y", "4")},
		want:  `{"y":4,"z":3,"ab":2,"é":1}`,
	},
	{
		name:  "nested object members are ordered too",
		doc:   `[{"long":1,"s":2}]`,
		diffs: []mysqljson.Diff{ins("$[0].mid", `{"yy":1,"x":2}`)},
		want:  `[{"s":2,"mid":{"x":2,"yy":1},"long":1}]`,
	},

	// Numbers keep their text.
	{
		name:  "numbers as written",
		doc:   `{"price":1.50,"big":12345678901234567890,"neg":-0,"exp":1E+05,"small":1e-7}`,
		diffs: []mysqljson.Diff{ins("$.more", "[0.10, 100000000000000000000000000001, -2.50e3]")},
		want:  `{"big":12345678901234567890,"exp":1E+05,"neg":-0,"more":[0.10,100000000000000000000000000001,-2.50e3],"price":1.50,"small":1e-7}`,
	},
	{name: "replace with a number as written", doc: `[1]`, diffs: []mysqljson.Diff{rep("$[0]", "  3.14159265358979323846264338327950288  ")}, want: `[3.14159265358979323846264338327950288]`},

	// Unicode and escaping.
	{
		name:  "unicode strings",
		doc:   `{"name":"Zoë","日本":"語","emoji":"\ud83d\ude00"}`,
		diffs: []mysqljson.Diff{rep("$.name", `"Zoë ✓"`), ins(`$."日本2"`, `"\u00e9"`)},
		// 日本 is 6 bytes long, so it sorts after "emoji".
		want: `{"name":"Zoë ✓","emoji":"😀","日本":"語","日本2":"é"}`,
	},
	{
		name:  "no HTML escaping, control characters escaped",
		doc:   `["<a href=\"x\">&amp;</a>"]`,
		diffs: []mysqljson.Diff{ins("$[1]", `"line\nbreak\u0001"`)},
		want:  `["<a href=\"x\">&amp;</a>","line\nbreak\u0001"]`,
	},

	// Sequences where a later diff depends on an earlier one.
	{
		name:  "insert into an array then replace the element after it",
		doc:   `[1,2,3]`,
		diffs: []mysqljson.Diff{ins("$[1]", `"new"`), rep("$[2]", "20")},
		want:  `[1,"new",20,3]`,
	},
	{
		name:  "insert an object then a member into it",
		doc:   `{}`,
		diffs: []mysqljson.Diff{ins("$.a", "{}"), ins("$.a.b", "[]"), ins("$.a.b[0]", `"x"`), ins("$.a.b[last]", `"y"`)},
		want:  `{"a":{"b":["y","x"]}}`,
	},
	{
		name:  "remove twice at the same index",
		doc:   `["a","b","c","d"]`,
		diffs: []mysqljson.Diff{rem("$[1]"), rem("$[1]"), rep("$[last]", `"D"`)},
		want:  `["a","D"]`,
	},
	{
		name:  "replace a scalar with an array, then insert into it",
		doc:   `{"a":1}`,
		diffs: []mysqljson.Diff{rep("$.a", "[1,2]"), ins("$.a[2]", "3"), rem("$.a[0]")},
		want:  `{"a":[2,3]}`,
	},
	{
		name:  "remove a member then insert it again",
		doc:   `{"a":{"deep":[1]},"b":2}`,
		diffs: []mysqljson.Diff{rem("$.a"), ins("$.a", "null"), rep("$.b", "false")},
		want:  `{"a":null,"b":false}`,
	},
	{name: "no diffs", doc: " { \"b\" : 1 , \"a\" : [ ] } ", want: `{"a":[],"b":1}`},
	{name: "remove ignores Value", doc: `[1,2]`, diffs: []mysqljson.Diff{{Op: mysqljson.Remove, Path: "$[0]", Value: "not json"}}, want: `[2]`},

	// Errors.
	{name: "member leg through a scalar", doc: `{"a":1}`, diffs: []mysqljson.Diff{rep("$.a.b", "2")}, wantErr: []string{"diffs[0]", `"$.a.b"`, "the value at $.a is a number", ".b needs an object", "disagree"}},
	{name: "array leg through a scalar", doc: `{"a":"s"}`, diffs: []mysqljson.Diff{ins("$.a[0]", "2")}, wantErr: []string{"diffs[0]", "the value at $.a is a string", "[0] needs an array"}},
	{name: "deep leg through null", doc: `{"a":null}`, diffs: []mysqljson.Diff{rem("$.a.b.c")}, wantErr: []string{"the value at $.a is null"}},
	{name: "member leg on an array", doc: `[1]`, diffs: []mysqljson.Diff{rem("$.a")}, wantErr: []string{"the value at $ is an array", ".a needs an object"}},
	{name: "array leg on an object", doc: `{"a":{}}`, diffs: []mysqljson.Diff{rep("$.a[0]", "1")}, wantErr: []string{"the value at $.a is an object", "[0] needs an array"}},
	{name: "error names the failing diff", doc: `[1]`, diffs: []mysqljson.Diff{rep("$[0]", "true"), rep("$[0].x", "1")}, wantErr: []string{"diffs[1]", `"$[0].x"`, "the value at $[0] is a boolean"}},
	{name: "root path", doc: `{}`, diffs: []mysqljson.Diff{rep("$", "1")}, wantErr: []string{"diffs[0]", "the path $"}},
	{name: "member wildcard", doc: `{}`, diffs: []mysqljson.Diff{rem("$.*")}, wantErr: []string{"diffs[0]", ".* wildcard", "offset 2"}},
	{name: "array wildcard", doc: `[]`, diffs: []mysqljson.Diff{rep("$[*]", "1")}, wantErr: []string{"[*] wildcard", "offset 2"}},
	{name: "ellipsis", doc: `{}`, diffs: []mysqljson.Diff{rep("$**.a", "1")}, wantErr: []string{"** wildcard", "offset 1"}},
	{name: "array range", doc: `[1,2]`, diffs: []mysqljson.Diff{rem("$[0 to 1]")}, wantErr: []string{"ranges", "offset 4"}},
	{name: "bad path syntax", doc: `{}`, diffs: []mysqljson.Diff{rep("$.a[x]", "1")}, wantErr: []string{"diffs[0]", `"$.a[x]"`, "offset 4", "expected an array index"}},
	{name: "unknown operation", doc: `{}`, diffs: []mysqljson.Diff{{Op: 3, Path: "$.a", Value: "1"}}, wantErr: []string{"diffs[0] (Op(3)", "operation 3"}},
	{name: "bad value", doc: `{}`, diffs: []mysqljson.Diff{ins("$.a", "{")}, wantErr: []string{"diffs[0]", "value", "invalid JSON text"}},
	{name: "empty value", doc: `{}`, diffs: []mysqljson.Diff{ins("$.a", "")}, wantErr: []string{"diffs[0]", "value", "no value"}},
	{name: "bad before image", doc: `{"a":1,}`, wantErr: []string{"before image", "invalid JSON text at byte 7"}},
	{name: "trailing data in the before image", doc: `{} []`, wantErr: []string{"before image", "byte 3", "more after the value"}},
	{name: "lone surrogate", doc: `["\udc00"]`, wantErr: []string{"before image", "lone surrogate"}},
	{name: "invalid UTF-8", doc: "[\"\xff\"]", wantErr: []string{"before image", "not valid UTF-8 at byte 2"}},
}

func TestApply(t *testing.T) {
	for _, c := range slices.Concat(mysqlDocCases, applyCases) {
		t.Run(c.name, func(t *testing.T) {
			got, err := mysqljson.Apply(c.doc, c.diffs)
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("Apply = %s, want an error containing %q", got, c.wantErr)
				}
				for _, part := range c.wantErr {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not contain %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got != c.want {
				t.Errorf("Apply =\n  %s\nwant\n  %s", got, c.want)
			}
			if again, err := mysqljson.Canonical(got); err != nil || again != got {
				t.Errorf("Canonical(Apply) = %s, %v; want it unchanged", again, err)
			}
		})
	}
}

func TestApplyDoesNotAliasValues(t *testing.T) {
	// Two inserts of equal values, then a change inside one of them:
	// the other must not change with it.
	got, err := mysqljson.Apply(`{}`, []mysqljson.Diff{
		ins("$.a", "[1]"), ins("$.b", "[1]"), ins("$.a[1]", "2"), rep("$.b[0]", "0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[1,2],"b":[0]}`; got != want {
		t.Errorf("Apply = %s, want %s", got, want)
	}
}

func TestApplyCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b": 1, "a": 2}`, `{"a":2,"b":1}`},
		{` [ 1 , 2.50 , "x" ] `, `[1,2.50,"x"]`},
		{`"just a string"`, `"just a string"`},
		{`-12.5E-3`, `-12.5E-3`},
		{`null`, `null`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"\u0061":"\/\u00e9"}`, `{"a":"/é"}`},
		{`["\u2028"]`, `["\u2028"]`},
		{"\t{\n\"k\"\r:\n[]}\n", `{"k":[]}`},
	} {
		got, err := mysqljson.Canonical(c.in)
		if err != nil || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", " ", "{", "[1,]", "01", "1 2", "NaN", `"\ud800"`, `"\ud800\u0041"`, `{"a"}`, "\"\x01\""} {
		if got, err := mysqljson.Canonical(bad); err == nil {
			t.Errorf("Canonical(%q) = %q, want an error", bad, got)
		}
	}
}

func TestApplyDepthLimit(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, err := mysqljson.Canonical(deep); err != nil {
		t.Fatalf("Canonical of 10000 levels: %v", err)
	}
	// Inserting a deep value into a deep document would go past what
	// Canonical reads back, so Apply refuses it.
	path := "$" + strings.Repeat("[0]", 9998)
	_, err := mysqljson.Apply(deep, []mysqljson.Diff{ins(path, deep)})
	if err == nil || !strings.Contains(err.Error(), "deeper than 10000") {
		t.Errorf("Apply of a too-deep result: %v, want a depth error", err)
	}
}

func TestPathParse(t *testing.T) {
	key := func(k string) mysqljson.Leg { return mysqljson.Leg{Key: k} }
	idx := func(i int) mysqljson.Leg { return mysqljson.Leg{Index: i, IsIndex: true} }
	last := func(i int) mysqljson.Leg { return mysqljson.Leg{Index: i, IsIndex: true, FromEnd: true} }
	for _, c := range []struct {
		in   string
		want mysqljson.Path
		// str is what String prints, if not in.
		str string
	}{
		{in: "$", want: nil},
		{in: "$.a", want: mysqljson.Path{key("a")}},
		{in: "$[0]", want: mysqljson.Path{idx(0)}},
		{in: "$.a.b[3].c_d$1", want: mysqljson.Path{key("a"), key("b"), idx(3), key("c_d$1")}},
		{in: `$."key with spaces"`, want: mysqljson.Path{key("key with spaces")}},
		{in: `$."a\"b\\c"`, want: mysqljson.Path{key(`a"b\c`)}},
		{in: `$.""`, want: mysqljson.Path{key("")}},
		{in: `$."1"`, want: mysqljson.Path{key("1")}},
		{in: `$."a-b"`, want: mysqljson.Path{key("a-b")}},
		{in: `$."a"`, want: mysqljson.Path{key("a")}, str: "$.a"},
		{in: `$."\u0041"`, want: mysqljson.Path{key("A")}, str: "$.A"},
		{in: `$."tab\tnl\nctl\u0001"`, want: mysqljson.Path{key("tab\tnl\nctl\x01")}, str: `$."tab\tnl\nctl\u0001"`},
		{in: "$[last]", want: mysqljson.Path{last(0)}},
		{in: "$[last-0]", want: mysqljson.Path{last(0)}, str: "$[last]"},
		{in: "$[last-12]", want: mysqljson.Path{last(12)}},
		{in: "$[007]", want: mysqljson.Path{idx(7)}, str: "$[7]"},
		{in: "$[4294967295]", want: mysqljson.Path{idx(4294967295)}},
		{in: "  $ .a\t[ 1 ]\n. b [ last - 2 ] ", want: mysqljson.Path{key("a"), idx(1), key("b"), last(2)}, str: "$.a[1].b[last-2]"},
		// MySQL's identifier test classes a code point by its low byte
		// (see Path.String): é (E9) and 日 (E5) are letters, 本 (2C ','),
		// 中 (2D '-') and к (3A ':') are not, ı (U+0131, 31 '1') is a
		// digit.
		{in: "$.é", want: mysqljson.Path{key("é")}},
		{in: "$.日", want: mysqljson.Path{key("日")}},
		{in: `$."日本"`, want: mysqljson.Path{key("日本")}},
		{in: `$."中"`, want: mysqljson.Path{key("中")}},
		{in: `$."ключ"`, want: mysqljson.Path{key("ключ")}},
		{in: "$.aı", want: mysqljson.Path{key("aı")}},
		{in: `$."ıa"`, want: mysqljson.Path{key("ıa")}},
		{in: "$.a\u0301", want: mysqljson.Path{key("a\u0301")}},
		{in: "$.a\u203fb", want: mysqljson.Path{key("a\u203fb")}},
	} {
		got, err := mysqljson.ParsePath(c.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.in, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParsePath(%q) = %#v, want %#v", c.in, got, c.want)
		}
		str := c.str
		if str == "" {
			str = c.in
		}
		if s := got.String(); s != str {
			t.Errorf("ParsePath(%q).String() = %q, want %q", c.in, s, str)
		}
		if back, err := mysqljson.ParsePath(got.String()); err != nil || !slices.Equal(back, got) {
			t.Errorf("ParsePath(%q) = %#v, %v; want %#v", got.String(), back, err, got)
		}
	}
}

func TestPathParseErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", []string{"offset 0", "expected '$'"}},
		{"a.b", []string{"offset 0", "expected '$'", `found 'a'`}},
		{"$a", []string{"offset 1", "expected '.' or '['"}},
		{"$.", []string{"offset 2", "expected a member name"}},
		{"$..a", []string{"offset 2", "expected a member name", `found '.'`}},
		{"$.a b", []string{"offset 4", "expected '.' or '['"}},
		{"$.1a", []string{"offset 2", `"1a"`, "double-quoted"}},
		{"$.ключ", []string{"offset 2", `"ключ"`, "double-quoted"}},
		{"$.a-b", []string{"offset 2", "double-quoted"}},
		{`$."abc`, []string{"offset 2", "unterminated"}},
		{`$."a\x"`, []string{"offset 2", "not a valid JSON string"}},
		{`$."a` + "\x01" + `"`, []string{"offset 2", "not a valid JSON string"}},
		{`$."\ud800"`, []string{"offset 2", "lone surrogate"}},
		{"$.\"\xff\"", []string{"offset 2", "not valid UTF-8"}},
		{`$.a"b`, []string{"offset 2", "not a valid JSON string"}},
		{`$."a"b`, []string{"offset 5", "expected '.' or '['"}},
		{"$[", []string{"offset 2", "expected an array index", "the end of the path"}},
		{"$[]", []string{"offset 2", "expected an array index"}},
		{"$[-1]", []string{"offset 2", "expected an array index"}},
		{"$[1", []string{"offset 3", "expected ']'"}},
		{"$[1 2]", []string{"offset 4", "expected ']'"}},
		{"$[lastx]", []string{"offset 6", "expected ']'"}},
		{"$[last-]", []string{"offset 7", "expected a number after 'last-'"}},
		{"$[last+1]", []string{"offset 6", "expected ']'"}},
		{"$[4294967296]", []string{"offset 2", "larger than 4294967295"}},
		{"$[99999999999999999999999]", []string{"offset 2", "larger than"}},
		{"$[*]", []string{"offset 2", "[*] wildcard"}},
		{"$.*", []string{"offset 2", ".* wildcard"}},
		{"$.a.*.b", []string{"offset 4", ".* wildcard"}},
		{"$**.a", []string{"offset 1", "** wildcard"}},
		{"$[1 to 2]", []string{"offset 4", "ranges"}},
		{"$[last-3 to last]", []string{"offset 9", "ranges"}},
		{"$.a$", []string{}}, // valid: $ may follow the first character
	} {
		p, err := mysqljson.ParsePath(c.in)
		if len(c.want) == 0 {
			if err != nil {
				t.Errorf("ParsePath(%q): %v", c.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParsePath(%q) = %v, want an error", c.in, p)
			continue
		}
		for _, part := range append(c.want, "mysqljson: invalid JSON path") {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("ParsePath(%q) error %q does not contain %q", c.in, err, part)
			}
		}
	}
}

func TestPathString(t *testing.T) {
	for _, c := range []struct {
		p    mysqljson.Path
		want string
	}{
		{nil, "$"},
		{mysqljson.Path{{Key: "a"}, {Index: 2, IsIndex: true}, {Index: 1, IsIndex: true, FromEnd: true}}, "$.a[2][last-1]"},
		{mysqljson.Path{{Key: "_$"}, {Key: "$x"}, {Key: "a1"}}, "$._$.$x.a1"},
		{mysqljson.Path{{Key: "has space"}, {Key: "a.b"}, {Key: "[0]"}, {Key: "*"}}, `$."has space"."a.b"."[0]"."*"`},
		{mysqljson.Path{{Key: `q"b\`}, {Key: "\b\f\x1f\x7f"}}, `$."q\"b\\"."\b\f\u001f` + "\x7f" + `"`},
		{mysqljson.Path{{Key: "<tag>&"}}, `$."<tag>&"`},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.p, got, c.want)
		}
		if back, err := mysqljson.ParsePath(c.want); err != nil || !slices.Equal(back, c.p) {
			t.Errorf("ParsePath(%q) = %#v, %v; want %#v", c.want, back, err, c.p)
		}
	}
}

func TestApplyOpString(t *testing.T) {
	for op, want := range map[mysqljson.Op]string{mysqljson.Replace: "Replace", mysqljson.Insert: "Insert", mysqljson.Remove: "Remove", 9: "Op(9)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", byte(op), got, want)
		}
	}
	if mysqljson.Replace != 0 || mysqljson.Insert != 1 || mysqljson.Remove != 2 {
		t.Error("Op values differ from MySQL's enum_json_diff_operation")
	}
}

// fuzzSep separates paths and values in FuzzApply's arguments; it cannot
// occur raw in valid JSON text or in a valid path.
const fuzzSep = "\x1e"

func FuzzApply(f *testing.F) {
	for _, c := range slices.Concat(mysqlDocCases, applyCases) {
		ops := make([]byte, len(c.diffs))
		var paths, values []string
		for i, d := range c.diffs {
			ops[i] = byte(d.Op)
			paths = append(paths, d.Path)
			values = append(values, d.Value)
		}
		f.Add(c.doc, ops, strings.Join(paths, fuzzSep), strings.Join(values, fuzzSep))
	}
	f.Fuzz(func(t *testing.T, doc string, ops []byte, paths, values string) {
		pathList := strings.Split(paths, fuzzSep)
		valueList := strings.Split(values, fuzzSep)
		var diffs []mysqljson.Diff
		for i, op := range ops {
			d := mysqljson.Diff{Op: mysqljson.Op(op % 4)}
			if i < len(pathList) {
				d.Path = pathList[i]
			}
			if i < len(valueList) {
				d.Value = valueList[i]
			}
			diffs = append(diffs, d)
		}
		out, err := mysqljson.Apply(doc, diffs)
		if err == nil {
			again, err := mysqljson.Canonical(out)
			if err != nil || again != out {
				t.Fatalf("Canonical(%q) = %q, %v; want it unchanged", out, again, err)
			}
		}
		for _, s := range pathList {
			p, err := mysqljson.ParsePath(s)
			if err != nil {
				continue
			}
			back, err := mysqljson.ParsePath(p.String())
			if err != nil || !slices.Equal(back, p) {
				t.Fatalf("ParsePath(%q) = %#v; its String %q parses to %#v, %v", s, p, p.String(), back, err)
			}
		}
	})
}
