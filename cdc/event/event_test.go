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
	hb, _ := Encode(&Message{Kind: KindHeartbeat, Source: "a", Seq: 1})
	f.Add(hb)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil {
			if _, err := Encode(m); err != nil {
				t.Errorf("a valid message does not encode again: %v", err)
			}
		}
	})
}

// TestBinaryFormat: every field survives the binary format (a heartbeat,
// a fragment with dependencies, a DDL, a guard's stamp, a table without a
// primary key); a message written as JSON before the upgrade (version 1)
// still decodes; a binary message cut anywhere is invalid, not a panic.
func TestBinaryFormat(t *testing.T) {
	sent := time.Unix(1700000000, 123456789).UTC()
	msgs := []*Message{
		sample(),
		{Kind: KindHeartbeat, Source: "b", Seq: 9, Pos: "2-2-9,1-1-3", Time: sent, Sent: sent},
		{Kind: KindTxn, Source: "a", Seq: 12, Pos: "1-1-50", Time: sent, Sent: sent,
			Txn: &Txn{GTID: "1-1-50", Bucket: -1, Epoch: 41, Cell: "a1", Deps: map[int32]uint64{0: 3, 5: 11}, Frag: &Fragment{Index: 1, Count: 3}, Chunk: []byte{1, 2, 3}}},
		{Kind: KindTxn, Source: "a", Seq: 13, Pos: "1-1-51", Time: sent,
			Txn: &Txn{GTID: "1-1-51", Bucket: 3, DDL: &DDL{Schema: "lending", Statement: "ALTER TABLE users ADD COLUMN x INT"}}},
		{Kind: KindTxn, Source: "a", Seq: 14, Pos: "1-1-52", Time: sent,
			Txn: &Txn{GTID: "1-1-52", Bucket: 3, Tables: []Table{{Schema: "lending", Name: "audit", Cols: []string{"note"}, Types: []byte{15}}},
				Rows: []Row{{T: 0, Op: Insert, After: []Value{{"x"}}}}}},
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != binaryMagic {
			t.Fatalf("Encode wrote %q..., not the binary format", b[:1])
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode seq %d: %v", m.Seq, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("seq %d changed in the binary format:\n got %+v %+v\nwant %+v %+v", m.Seq, got, got.Txn, m, m.Txn)
		}
		for n := range len(b) {
			if _, err := Decode(b[:n]); !errors.Is(err, ErrInvalid) {
				t.Fatalf("seq %d cut to %d of %d bytes: %v, want ErrInvalid", m.Seq, n, len(b), err)
			}
		}
	}
	old := `{"v":1,"kind":"txn","src":"a","seq":7,"pos":"1-1-42","ts":"2023-11-14T22:13:20Z","txn":{"gtid":"1-1-42","bucket":17,` +
		`"tables":[{"schema":"lending","name":"t","cols":["id","v","b"],"types":"CA/8","pk":[0]}],"rows":[{"t":0,"op":"i","a":[1,"x",{"b":"AP8="}]}]}}`
	m, err := Decode([]byte(old))
	if err != nil {
		t.Fatalf("a version 1 (JSON) message: %v", err)
	}
	if r := m.Txn.Rows[0]; m.V != 1 || r.After[0].V != int64(1) || r.After[1].V != "x" || !reflect.DeepEqual(r.After[2].V, []byte{0, 255}) {
		t.Errorf("version 1 message decoded as %+v %+v", m, r)
	}
	if _, err := Decode([]byte{binaryMagic, 3, 't', 'x', 'n'}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a truncated binary message: %v", err)
	}
}
