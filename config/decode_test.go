package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

type decodeInner struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
}

type decodeOuter struct {
	Name           string            `yaml:"name"`
	Every          time.Duration     `yaml:"every"`
	Max            *int64            `yaml:"max"`
	On             bool              `yaml:"on"`
	Inner          decodeInner       `yaml:"inner"`
	List           []decodeInner     `yaml:"list"`
	Opt            *decodeInner      `yaml:"opt"`
	Labels         map[string]string `yaml:"labels"`
	Plain          string
	Skipped        string `yaml:"-"`
	decodeEmbedded `yaml:",inline"`
	hidden         string //nolint:unused // checks that unexported fields are not keys
}

type decodeEmbedded struct {
	Zone string `yaml:"zone"`
}

func TestDecodeStrictValues(t *testing.T) {
	src := `
base: &base {host: h, port: 1}
name: n
every: 0
max: 7
on: true
inner:
  <<: *base
  port: 2
list: [*base, {host: g}]
opt: null
labels: {a: b}
plain: p
zone: z
`
	// base is not a field: the anchor's own key is reported, its uses work.
	var v decodeOuter
	ps, err := DecodeStrict([]byte(src), &v)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].String() != "base: unknown field (line 2): use one of name, every, max, on, inner, list, opt, labels, plain, zone" {
		t.Errorf("problems %v", ps)
	}
	if v.Name != "n" || v.Every != 0 || v.Max == nil || *v.Max != 7 || !v.On || v.Inner != (decodeInner{"h", 2}) ||
		len(v.List) != 2 || v.List[0] != (decodeInner{"h", 1}) || v.List[1] != (decodeInner{"g", 0}) ||
		v.Opt != nil || v.Labels["a"] != "b" || v.Plain != "p" || v.Zone != "z" {
		t.Errorf("decoded %+v", v)
	}
}

func TestDecodeStrictProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"wrong kinds", "name: [a]\ninner: x\nlist: {a: 1}\nlabels: [x]\n", []string{
			"name: is a list, want a string",
			`inner: is a value "x", want a mapping of fields (host, port)`,
			"list: is a mapping, want a list",
			"labels: is a list, want a mapping"}},
		{"bad values go on", "every: 5 minutes\nmax: lots\non: maybe\nlist: [{port: x, hots: h}]\nopt: {prot: 1}\n", []string{
			`every: "5 minutes" is not a duration: write e.g. 10s, 500ms or 2m`,
			`max: "lots" is not a whole number: write e.g. 10`,
			`on: "maybe" is not a boolean: write true or false`,
			`list[0].port: "x" is not a whole number: write e.g. 10`,
			"list[0].hots: unknown field (line 4): did you mean host?",
			"opt.prot: unknown field (line 5): did you mean port?"}},
		{"twice", "name: a\nname: b\nlabels: {k: 1, k: 2}\n", []string{
			"name: is set twice (lines 1 and 2): keep one",
			`labels["k"]: is set twice (line 3): keep one`}},
		{"case slip", "Name: a\n", []string{"Name: unknown field (line 1): did you mean name?"}},
		{"not a mapping", "- a\n", []string{"(file): is a list, want a mapping of fields (name, every"}},
		{"not yaml", "name: [", []string{"(file): is not valid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v decodeOuter
			ps, err := DecodeStrict([]byte(tc.yaml), &v)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ps), len(tc.want), ps)
			}
			for i, w := range tc.want {
				if i < len(ps) && !strings.HasPrefix(ps[i].String(), w) {
					t.Errorf("problem %d = %q, want it to start with %q", i, ps[i], w)
				}
			}
		})
	}
}

func TestDecodeStrictEmptyAndMisuse(t *testing.T) {
	var v decodeOuter
	for _, src := range []string{"", "\n# only a comment\n"} {
		if _, err := DecodeStrict([]byte(src), &v); !errors.Is(err, io.EOF) {
			t.Errorf("%q: err = %v, want io.EOF", src, err)
		}
	}
	if _, err := DecodeStrict([]byte("name: a"), v); err == nil {
		t.Error("a struct, not a pointer, was accepted")
	}
}

func TestProblemsAdd(t *testing.T) {
	decoded := Problems{{Path: "regions[1].listen"}, {Path: "etcd"}}
	got := decoded.Add(Problems{{Path: "regions[1].listen"}, {Path: "regions[1].listen_x"}, {Path: "etcd.endpoints"}, {Path: "etcd2"}, {Path: "regions[10].listen"}})
	var paths []string
	for _, p := range got[len(decoded):] {
		paths = append(paths, p.Path)
	}
	if strings.Join(paths, " ") != "regions[1].listen_x etcd2 regions[10].listen" {
		t.Errorf("added %v", paths)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"name", "mysql", "kafka", "listen", "to", "data_dir"}
	for key, want := range map[string]string{"mysqll": "mysql", "myslq": "mysql", "lsten": "listen", "datadir": "data_dir", "Name": "name", "timeout": "", "colour": "", "t": "", "tx": ""} {
		if got := suggest(key, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
