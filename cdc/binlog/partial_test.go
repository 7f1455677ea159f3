package binlog_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/binlog/binlogtest"
	"github.com/regionplatform/region/cdc/binlog/mysqljson"
	"github.com/regionplatform/region/config"
)

// TestPartialJSONUpdate: MySQL 8 with binlog_row_value_options=PARTIAL_JSON
// logs UPDATE docs SET doc = JSON_SET(JSON_REMOVE(doc, '$.a'), '$.name',
// 'new', '$.tags[1]', 'y') as three diffs of doc, not the new document.
// The events are built by hand to MySQL's documented format
// (binlogtest), decoded by go-mysql's parser, and assembled: the after
// image must be the whole new document, for a row whose doc is logged as
// diffs and, in the same event, for a row whose doc is logged whole;
// the columns after the JSON column must come through too. go-mysql by
// itself keeps only the first diff, which the test also shows.
func TestPartialJSONUpdate(t *testing.T) {
	const srv = 8
	enc := func(doc string) []byte {
		b, err := mysqljson.EncodeText(doc)
		if err != nil {
			t.Fatalf("encode %s: %v", doc, err)
		}
		return b
	}
	w := &binlogtest.Writer{ServerID: srv}
	docs := binlogtest.Table{ID: 77, Schema: "lending", Name: "docs", ColumnNames: true, PrimaryKey: []int{0},
		Columns: []binlogtest.Column{
			{Type: mysql.MYSQL_TYPE_LONG, Name: "id", Nullable: true},
			{Type: mysql.MYSQL_TYPE_JSON, Meta: []byte{4}, Name: "doc", Nullable: true},
			{Type: mysql.MYSQL_TYPE_VARCHAR, Meta: []byte{20, 0}, Name: "note", Nullable: true},
			{Type: mysql.MYSQL_TYPE_JSON, Meta: []byte{4}, Name: "extra", Nullable: true},
		}}
	var diffs []byte
	diffs = append(diffs, binlogtest.JSONDiff(2, "$.a", nil)...)
	diffs = append(diffs, binlogtest.JSONDiff(0, "$.name", enc(`"new"`))...)
	diffs = append(diffs, binlogtest.JSONDiff(1, "$.tags[1]", enc(`"y"`))...)
	stream := [][]byte{
		w.FormatDescription("8.0.36"),
		w.GTID(binlogtest.GTID{Flags: 1, SID: [16]byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}, GNO: 5, LastCommitted: 4, SequenceNumber: 5}),
		w.Query("lending", "BEGIN"),
		w.TableMap(docs),
		w.Rows(replication.PARTIAL_UPDATE_ROWS_EVENT, docs.ID, len(docs.Columns),
			binlogtest.Image(binlogtest.Int32(1), binlogtest.JSON(enc(`{"a":1,"name":"old","tags":["x"]}`)), binlogtest.VarChar("n1"), binlogtest.JSON(enc(`[1]`))),
			binlogtest.AfterImage([]bool{true, false}, binlogtest.Int32(1), binlogtest.JSON(diffs), binlogtest.VarChar("n2"), binlogtest.JSON(enc(`[1]`))),
			binlogtest.Image(binlogtest.Int32(2), binlogtest.JSON(enc(`{"k":"v"}`)), nil, nil),
			binlogtest.AfterImage([]bool{false, false}, binlogtest.Int32(2), binlogtest.JSON(enc(`{"k":"w"}`)), binlogtest.VarChar("set"), nil),
		),
		w.XID(9),
	}
	cfg := binlog.Config{Flavor: "mysql", Filter: binlog.NewFilter(config.Replication{Databases: []string{"lending"}}), Buckets: 1024}

	// go-mysql alone: the first diff only.
	bare := replication.NewBinlogParser()
	bare.SetFlavor("mysql")
	plain := parse(t, bare, stream)
	re := plain[4].Event.(*replication.RowsEvent)
	if d, ok := re.Rows[1][1].(*replication.JsonDiff); !ok || d.Path != "$.a" {
		t.Fatalf("go-mysql decoded the partial doc as %#v; the test expects its one-diff form", re.Rows[1][1])
	}

	items, err := binlog.Assemble(context.Background(), cfg, parse(t, binlog.Parser(cfg), stream)...)
	if err != nil || len(items) != 1 || items[0].Txn == nil {
		t.Fatalf("assemble: %v, %+v", err, items)
	}
	txn := items[0].Txn
	if txn.GTID != "3e11fa47-71ca-11e1-9e33-c80aa9429562:5" || len(txn.Rows) != 2 {
		t.Fatalf("assembled %s with %d rows", txn.GTID, len(txn.Rows))
	}
	want := []struct{ doc, note, extra string }{
		{`{"name":"new","tags":["x","y"]}`, "n2", "[1]"},
		{`{"k":"w"}`, "set", ""},
	}
	for i, w := range want {
		after := txn.Rows[i].After
		sameJSON(t, after[1].Text(), w.doc)
		if after[2].Text() != w.note {
			t.Errorf("row %d note = %q, want %q", i, after[2].Text(), w.note)
		}
		if w.extra != "" {
			sameJSON(t, after[3].Text(), w.extra)
		} else if after[3].V != nil {
			t.Errorf("row %d extra = %v, want NULL", i, after[3].V)
		}
	}
}

// TestPartialJSONWithoutBeforeImage: with binlog_row_image=MINIMAL the
// document a diff applies to is not in the binlog; capture stops with
// the fix instead of replicating a wrong document.
func TestPartialJSONWithoutBeforeImage(t *testing.T) {
	const srv = 8
	doc, err := mysqljson.EncodeText(`"v"`)
	if err != nil {
		t.Fatal(err)
	}
	w := &binlogtest.Writer{ServerID: srv}
	docs := binlogtest.Table{ID: 77, Schema: "lending", Name: "docs", ColumnNames: true, PrimaryKey: []int{0},
		Columns: []binlogtest.Column{
			{Type: mysql.MYSQL_TYPE_LONG, Name: "id", Nullable: true},
			{Type: mysql.MYSQL_TYPE_JSON, Meta: []byte{4}, Name: "doc", Nullable: true},
		}}
	stream := [][]byte{
		w.FormatDescription("8.0.36"),
		w.TableMap(docs),
		w.Rows(replication.PARTIAL_UPDATE_ROWS_EVENT, docs.ID, len(docs.Columns),
			binlogtest.Image(binlogtest.Int32(1), nil),
			binlogtest.AfterImage([]bool{true}, binlogtest.Int32(1), binlogtest.JSON(binlogtest.JSONDiff(0, "$.k", doc)))),
	}
	cfg := binlog.Config{Flavor: "mysql", Filter: binlog.NewFilter(config.Replication{Databases: []string{"lending"}}), Buckets: 1024}
	p := binlog.Parser(cfg)
	var last error
	for _, raw := range stream {
		_, last = p.Parse(raw)
	}
	if last == nil || !strings.Contains(last.Error(), "binlog_row_image=FULL") {
		t.Fatalf("parsing a partial update without its before image: %v; want an error naming binlog_row_image=FULL", last)
	}
}

// parse runs the parser p over raw events.
func parse(t *testing.T, p *replication.BinlogParser, raw [][]byte) []*replication.BinlogEvent {
	t.Helper()
	var out []*replication.BinlogEvent
	for i, r := range raw {
		ev, err := p.Parse(r)
		if err != nil {
			t.Fatalf("go-mysql's parser on event %d: %v", i, err)
		}
		out = append(out, ev)
	}
	return out
}

func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%q is not JSON: %v", got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("document %s, want %s", got, want)
	}
}
