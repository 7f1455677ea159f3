package binlog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"path/filepath"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/klauspost/compress/zstd"

	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab/labtest"
)

// TestCompressedTransaction: a MySQL 8 compressed transaction
// (binlog_transaction_compression) assembles like the same events
// uncompressed. No MySQL 8 server runs here: a real server (MariaDB)
// writes a transaction's table map, rows and commit; the test wraps
// those bytes in a Transaction_payload event as MySQL documents it
// (fields: payload size, compression type 0 = zstd, uncompressed size,
// end mark; then the zstd frame of the events, without their
// checksums), go-mysql's parser decodes it, and the assembler must give
// the transaction's rows.
func TestCompressedTransaction(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	for _, q := range []string{"CREATE DATABASE lending", "CREATE TABLE lending.notes (id INT PRIMARY KEY, note VARCHAR(20))", "FLUSH BINARY LOGS",
		"INSERT INTO lending.notes VALUES (1, 'first'), (2, 'second')", "FLUSH BINARY LOGS"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var base string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin_basename").Scan(&base); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for rows.Next() {
		var name string
		var size any
		rows.Scan(&name, &size)
		files = append(files, name)
	}
	rows.Close()
	// The insert is alone in the second-to-last file (between the flushes).
	file := filepath.Join(filepath.Dir(base), files[len(files)-2])

	// Read the real events: the format description, the GTID event, and
	// the transaction's table map, rows and commit.
	var fde, gtid *replication.BinlogEvent
	var inner [][]byte
	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	err = p.ParseFile(file, 0, func(e *replication.BinlogEvent) error {
		switch e.Header.EventType {
		case replication.FORMAT_DESCRIPTION_EVENT:
			fde = e
		case replication.MARIADB_GTID_EVENT:
			gtid = e
		case replication.TABLE_MAP_EVENT, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2, replication.XID_EVENT:
			// Events inside a payload carry no checksum.
			raw := append([]byte(nil), e.RawData[:len(e.RawData)-4]...)
			binary.LittleEndian.PutUint32(raw[9:13], uint32(len(raw)))
			inner = append(inner, raw)
		}
		return nil
	})
	if err != nil || fde == nil || gtid == nil || len(inner) != 3 {
		t.Fatalf("read %s: %v (format %v, gtid %v, %d events)", file, err, fde != nil, gtid != nil, len(inner))
	}
	plain := bytes.Join(inner, nil)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	packed := enc.EncodeAll(plain, nil)
	enc.Close()
	field := func(typ byte, v uint64) []byte {
		b := binary.LittleEndian.AppendUint64(nil, v)
		n := 8
		for n > 1 && b[n-1] == 0 {
			n--
		}
		return append([]byte{typ, byte(n)}, b[:n]...)
	}
	var body []byte
	body = append(body, field(1, uint64(len(packed)))...)
	body = append(body, field(2, 0)...) // zstd
	body = append(body, field(3, uint64(len(plain)))...)
	body = append(body, 0) // end of the header fields
	body = append(body, packed...)
	ev := make([]byte, 19, 19+len(body)+4)
	binary.LittleEndian.PutUint32(ev[0:4], gtid.Header.Timestamp)
	ev[4] = byte(replication.TRANSACTION_PAYLOAD_EVENT)
	binary.LittleEndian.PutUint32(ev[5:9], gtid.Header.ServerID)
	binary.LittleEndian.PutUint32(ev[9:13], uint32(19+len(body)+4))
	ev = append(ev, body...)
	ev = binary.LittleEndian.AppendUint32(ev, crc32.ChecksumIEEE(ev))

	// go-mysql decodes the payload with the server's format description.
	if _, err := p.Parse(fde.RawData); err != nil {
		t.Fatal(err)
	}
	payload, err := p.Parse(ev)
	if err != nil {
		t.Fatalf("go-mysql's parser on the payload: %v", err)
	}
	pe, ok := payload.Event.(*replication.TransactionPayloadEvent)
	if !ok || len(pe.Events) != 3 {
		t.Fatalf("parsed %T with %d events; want the payload's 3", payload.Event, len(pe.Events))
	}
	g, err := p.Parse(gtid.RawData)
	if err != nil {
		t.Fatal(err)
	}

	cfg := binlog.Config{Flavor: "mariadb", Filter: binlog.NewFilter(config.Replication{Databases: []string{"lending"}}), Buckets: 1024}
	items, err := binlog.Assemble(ctx, cfg, g, payload)
	if err != nil || len(items) != 1 || items[0].Txn == nil {
		t.Fatalf("the GTID event and the payload: %v, %+v", err, items)
	}
	it := items[0]
	if len(it.Txn.Rows) != 2 || it.Txn.Tables[0].Name != "notes" || it.Txn.Rows[1].After[1].Text() != "second" {
		t.Errorf("the compressed transaction assembled as %+v", it.Txn)
	}
	t.Logf("a %d-byte transaction compressed to %d bytes assembled as %d rows of %s.%s (%s)", len(plain), len(packed), len(it.Txn.Rows), it.Txn.Tables[0].Schema, it.Txn.Tables[0].Name, it.Txn.GTID)
}
