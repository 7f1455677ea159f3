package mysqljson

import (
	"fmt"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/regionplatform/region/cdc/binlog/binlogtest"
)

// goMySQLDecode returns the text go-mysql's row event decoder gives the
// binary JSON b, rendering MySQL's text (RenderJSONAsMySQLText), through
// its exported API only: it parses a binlog stream built by hand with
// binlogtest, a format description, a table map of one JSON column and a
// WRITE_ROWS_EVENTv2 inserting b.
func goMySQLDecode(t *testing.T, b []byte) string {
	t.Helper()
	s, err := goMySQL(b, true)
	if err != nil {
		t.Fatalf("go-mysql: %v", err)
	}
	return s
}

// goMySQL parses the stream goMySQLDecode describes, with or without
// RenderJSONAsMySQLText, and returns the row's JSON value.
func goMySQL(b []byte, mysqlText bool) (string, error) {
	p := replication.NewBinlogParser()
	p.SetRenderJSONAsMySQLText(mysqlText)
	// Table 1, db.t, of one nullable JSON column (metadata: the
	// length's size, 4), no optional metadata.
	w := &binlogtest.Writer{ServerID: 1}
	tbl := binlogtest.Table{ID: 1, Schema: "db", Name: "t",
		Columns: []binlogtest.Column{{Type: mysql.MYSQL_TYPE_JSON, Meta: []byte{4}, Nullable: true}}}
	stream := [][]byte{
		w.FormatDescription("8.0.36"),
		w.TableMap(tbl),
		w.Rows(replication.WRITE_ROWS_EVENTv2, tbl.ID, len(tbl.Columns), binlogtest.Image(binlogtest.JSON(b))),
	}
	var v any
	for _, ev := range stream {
		e, err := p.Parse(ev)
		if err != nil {
			return "", err
		}
		if r, ok := e.Event.(*replication.RowsEvent); ok {
			if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
				return "", fmt.Errorf("rows %v, want one of one column", r.Rows)
			}
			v = r.Rows[0][0]
		}
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the column's value is a %T, not a string", v)
	}
	return s, nil
}
