package event

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() *Message {
	return &Message{Kind: KindTxn, Source: "a", Seq: 7, Pos: "1-1-42", Time: time.Unix(1700000000, 0).UTC(),
		Txn: &Txn{GTID: "1-1-42", Bucket: 17,
			Tables: []Table{{Schema: "lending", Name: "ledger_entries", Cols: []string{"id", "user_id", "amount", "note", "raw", "f"}, Types: []byte{8, 8, 246, 15, 252, 5}, PK: []int{0}}},
			Rows: []Row{
				{T: 0, Op: Insert, After: []Value{{int64(1)}, {int64(99)}, {"12.34"}, {"héllo"}, {[]byte{0, 255, 1}}, {float64(2)}}},
				{T: 0, Op: Update, Before: []Value{{int64(1)}, {int64(99)}, {"12.34"}, {nil}, {[]byte{}}, {1.5}}, After: []Value{{int64(1)}, {uint64(math.MaxUint64)}, {"-0.01"}, {nil}, {[]byte("x")}, {-1e300}}},
				{T: 0, Op: Delete, Before: []Value{{int64(-5)}, {int64(0)}, {"0"}, {""}, {nil}, {0.25}}},
			}}}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip changed the message:\n got %+v\nwant %+v\n%s", got.Txn.Rows, m.Txn.Rows, b)
	}
	if v := NewValue(string([]byte{0xff, 0xfe})); !reflect.DeepEqual(v.V, []byte{0xff, 0xfe}) {
		t.Errorf("invalid UTF-8 string should travel as bytes, got %T", v.V)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Message)
		want string
	}{
		{"version", func(m *Message) { m.V = 9 }, "wire format version 9"},
		{"no source", func(m *Message) { m.Source = "" }, "src is empty"},
		{"kind", func(m *Message) { m.Kind = "x" }, `kind "x"`},
		{"no gtid", func(m *Message) { m.Txn.GTID = "" }, "gtid is empty"},
		{"frag", func(m *Message) { m.Txn.Frag = &Fragment{Index: 2, Count: 2} }, "frag 2 of 2"},
		{"table ref", func(m *Message) { m.Txn.Rows[0].T = 3 }, "rows[0].t = 3"},
		{"short image", func(m *Message) { m.Txn.Rows[0].After = m.Txn.Rows[0].After[:2] }, "2 values for 6 columns"},
		{"insert with before", func(m *Message) { m.Txn.Rows[0].Before = m.Txn.Rows[0].After }, "must not have a b image"},
		{"types", func(m *Message) { m.Txn.Tables[0].Types = nil }, "6 columns and 0 types"},
		{"op", func(m *Message) { m.Txn.Rows[2].Op = "x" }, `op "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample()
			m.V = Version
			tt.mut(m)
			err := m.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want ErrInvalid with %q, got %v", tt.want, err)
			}
		})
	}
	if _, err := Decode([]byte("{not json")); !errors.Is(err, ErrInvalid) {
		t.Errorf("garbage: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(sample())
	f.Add(b)
	f.Add([]byte(`{"v":1,"kind":"hb","src":"a","seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil {
			if _, err := Encode(m); err != nil {
				t.Errorf("a valid message does not encode again: %v", err)
			}
		}
	})
}
