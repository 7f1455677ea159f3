package binlog_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
	"github.com/regionplatform/region/cdc/event"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/topo"
)

func TestMain(m *testing.M) { labtest.Main(m) }

func TestFilterDDL(t *testing.T) {
	f := binlog.NewFilter(config.Replication{Databases: []string{"lending"}, Exclude: []string{"lending.tmp_*"},
		Tables: []config.Table{{Name: "lending.cache_*", Class: config.ClassLocal}, {Name: "lending.jobs", Class: config.ClassLocal}}})
	tests := []struct {
		db, stmt           string
		replicate, applied bool
	}{
		{"lending", "ALTER TABLE ledger_entries ADD COLUMN note TEXT", true, false},
		{"", "CREATE DATABASE IF NOT EXISTS lending", true, false},
		{"", "create database other", false, false},
		{"other", "ALTER TABLE lending.users ADD x INT", true, false},
		{"lending", "ALTER TABLE mysql.user ADD x INT", false, false},
		{"lending", "/* c */ DROP TABLE t", true, false},
		{"lending", binlog.AppliedMarker + " ALTER TABLE t ADD y INT", false, true},
		{"lending", "GRANT ALL ON lending.* TO x", false, false},
		{"lending", "FLUSH PRIVILEGES", false, false},
	}
	for _, tt := range tests {
		r, a := f.DDL(tt.db, tt.stmt)
		if r != tt.replicate || a != tt.applied {
			t.Errorf("DDL(%q, %q) = %v, %v; want %v, %v", tt.db, tt.stmt, r, a, tt.replicate, tt.applied)
		}
	}
	if f.Table("lending", "tmp_x") || f.Table("lending", "cache_rates") || f.Table("lending", "jobs") || !f.Table("lending", "jobs2") || !f.Table("lending", "users") || f.Table("mysql", "user") || f.Table("_region", "apply_checkpoints") {
		t.Error("table filter")
	}
}

// TestReaderOnMariaDB reads a real binlog: replicated and filtered tables,
// an applier's transaction (echo), DDL and the row images after it.
func TestReaderOnMariaDB(t *testing.T) {
	port, db := firstMariaDB(t)
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE lending")
	exec("CREATE TABLE lending.ledger (id BIGINT UNSIGNED PRIMARY KEY, user_id BIGINT NOT NULL, amount DECIMAL(12,2), note VARCHAR(20), raw VARBINARY(8), at DATETIME(3))")
	exec("CREATE DATABASE other")
	exec("CREATE TABLE other.t (id INT PRIMARY KEY)")
	exec("CREATE DATABASE IF NOT EXISTS _region") // the lab's appliers may have made it
	exec("CREATE TABLE _region.test_marker (id INT PRIMARY KEY)")
	exec("INSERT INTO lending.ledger VALUES (18446744073709551615, 42, 12.34, 'héllo', 0x00FF, '2026-11-23 01:02:03.456')")
	exec("INSERT INTO other.t VALUES (1)")
	exec("BEGIN; INSERT INTO lending.ledger VALUES (2, 7, 1, 'x', NULL, NULL); INSERT INTO _region.test_marker VALUES (1); COMMIT")
	exec("BEGIN; UPDATE lending.ledger SET amount = 99.99 WHERE id = 2; DELETE FROM lending.ledger WHERE id = 18446744073709551615; COMMIT")
	exec(binlog.AppliedMarker + " ALTER TABLE lending.ledger ADD COLUMN applied_col INT")
	exec("ALTER TABLE lending.ledger ADD COLUMN extra INT NOT NULL DEFAULT 5")
	exec("INSERT INTO lending.ledger (id, user_id) VALUES (3, 42)")
	// Two transactions a guard stamped: the stamp's row is inserted, then
	// updated; it is no applier's marker.
	exec(binlog.StampSchema)
	stamp := "INSERT INTO _region.txn_stamps VALUES (4242, '%s', %d, 1, NOW(6)) ON DUPLICATE KEY UPDATE cell = VALUES(cell), epoch = VALUES(epoch), n = n + 1"
	exec("BEGIN; INSERT INTO lending.ledger (id, user_id) VALUES (4, 42); " + fmt.Sprintf(stamp, "a1", 17) + "; COMMIT")
	exec("BEGIN; UPDATE lending.ledger SET note = 'stamped' WHERE id = 4; " + fmt.Sprintf(stamp, "b1", 18) + "; COMMIT")

	cfg := config.Replication{Databases: []string{"lending"}, Tables: []config.Table{{Name: "lending.ledger", ShardColumn: "user_id"}}}
	r, err := binlog.NewReader(binlog.Config{Flavor: "mariadb", Host: "127.0.0.1", Port: uint16(port), User: "root",
		ServerID: 9001, Filter: binlog.NewFilter(cfg), Buckets: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := make(chan binlog.Item, 100)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, "", out) }()

	var txns []*event.Txn
	echoes := 0
	lastPos := ""
	for len(txns) < 8 {
		select {
		case it := <-out:
			if it.Pos == "" || it.Pos == lastPos {
				t.Errorf("position did not advance: %q", it.Pos)
			}
			lastPos = it.Pos
			if it.Echo {
				echoes++
			}
			if it.Txn != nil {
				txns = append(txns, it.Txn)
			}
		case err := <-errc:
			t.Fatalf("reader stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("only %d transactions read: %+v", len(txns), txns)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// 0 CREATE DATABASE lending, 1 CREATE TABLE, 2 insert, 3 update+delete, 4 ALTER, 5 insert after ALTER, 6 and 7 stamped
	if txns[0].DDL == nil || !strings.Contains(txns[0].DDL.Statement, "CREATE DATABASE lending") {
		t.Errorf("txn 0 = %+v", txns[0].DDL)
	}
	if txns[1].DDL == nil || !strings.Contains(txns[1].DDL.Statement, "CREATE TABLE lending.ledger") {
		t.Errorf("txn 1 = %+v", txns[1].DDL)
	}
	ins := txns[2]
	wantBucket := int32(topo.BucketOfString("42", 1024))
	if ins.Bucket != wantBucket || len(ins.Rows) != 1 || ins.Rows[0].Op != event.Insert || len(ins.Tables) != 1 || ins.Tables[0].PK[0] != 0 {
		t.Fatalf("insert txn = %+v", ins)
	}
	a := ins.Rows[0].After
	if a[0].V != uint64(18446744073709551615) || a[2].V != "12.34" || a[3].V != "héllo" || string(a[4].V.([]byte)) != "\x00\xff" || a[5].V != "2026-11-23 01:02:03.456" {
		t.Errorf("values = %#v", a)
	}
	ud := txns[3]
	if len(ud.Rows) != 2 || ud.Rows[0].Op != event.Update || ud.Rows[0].After[2].V != "99.99" || ud.Rows[1].Op != event.Delete || ud.Bucket != int32(topo.BucketOfString("7", 1024)) {
		t.Errorf("update/delete txn = %+v", ud.Rows)
	}
	if txns[4].DDL == nil || !strings.Contains(txns[4].DDL.Statement, "ADD COLUMN extra") {
		t.Errorf("txn 4 = %+v", txns[4])
	}
	after := txns[5]
	if cols := after.Tables[0].Cols; len(cols) != 8 || cols[7] != "extra" || after.Rows[0].After[7].V != int64(5) {
		t.Errorf("row after ALTER: cols %v values %v", cols, after.Rows[0].After)
	}
	for i, want := range map[int]string{2: "0 ", 6: "17 a1", 7: "18 b1"} {
		tx := txns[i]
		if got := fmt.Sprintf("%d %s", tx.Epoch, tx.Cell); got != want || len(tx.Rows) != 1 || len(tx.Tables) != 1 || tx.Tables[0].Name != "ledger" {
			t.Errorf("txn %d: stamp %q with %d rows of %d tables, want %q and the ledger row only", i, got, len(tx.Rows), len(tx.Tables), want)
		}
	}
	// At least the test's own applier-marked transaction and DDL (the
	// lab's appliers add their checkpoint writes).
	if echoes < 2 {
		t.Errorf("%d echoes, want at least 2", echoes)
	}
	for _, tx := range txns {
		for _, tb := range tx.Tables {
			if tb.Schema != "lending" {
				t.Errorf("captured a change to %s.%s", tb.Schema, tb.Name)
			}
		}
	}
}

// TestAppliedDDLAfterARestart: a reader that starts after an applier's
// announcement (a capture restarting from a checkpoint between the
// announcement and its schema change) still knows the change for the
// applier's, from _region.apply_ddl, and does not publish it back; a
// local schema change after it is published. Without AppliedDDL the change
// (a DROP TABLE, whose text the server rewrites, losing the applier's
// marker) would go out.
func TestAppliedDDLAfterARestart(t *testing.T) {
	ctx := context.Background()
	port, db := firstMariaDB(t)
	if err := apply.EnsureSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE DATABASE lending", "CREATE TABLE lending.tmp_t (id INT PRIMARY KEY)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `INSERT INTO _region.apply_ddl (source, seq, gtid, stmt, applied_at, conn_id, state)
		VALUES ('b', 1, '2-2-1', 'DROP TABLE lending.tmp_t', UTC_TIMESTAMP(6), CONNECTION_ID(), 'started')`); err != nil {
		t.Fatal(err)
	}
	var from string
	if err := conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&from); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE lending.tmp_t"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE lending.after_t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	// read returns the schema changes a reader from `from` publishes,
	// up to the local CREATE TABLE.
	read := func(applied func(context.Context, uint32, time.Time) (bool, error)) []string {
		cfg := config.Replication{Databases: []string{"lending"}}
		r, err := binlog.NewReader(binlog.Config{Flavor: "mariadb", Host: "127.0.0.1", Port: uint16(port), User: "root",
			ServerID: 9002, Filter: binlog.NewFilter(cfg), Buckets: 1024, AppliedDDL: applied})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		out := make(chan binlog.Item, 100)
		errc := make(chan error, 1)
		go func() { errc <- r.Run(rctx, from, out) }()
		var ddl []string
		for {
			select {
			case it := <-out:
				if it.Txn != nil && it.Txn.DDL != nil {
					ddl = append(ddl, it.Txn.DDL.Statement)
					if strings.Contains(it.Txn.DDL.Statement, "after_t") {
						cancel()
						<-errc
						return ddl
					}
				}
			case err := <-errc:
				t.Fatalf("reader stopped: %v (schema changes so far: %q)", err, ddl)
			}
		}
	}
	if got := read(apply.AppliedDDL(db)); len(got) != 1 {
		t.Errorf("with AppliedDDL the reader published %q, want only the local CREATE TABLE", got)
	}
	if got := read(nil); len(got) != 2 || !strings.Contains(got[0], "DROP TABLE") {
		t.Errorf("without AppliedDDL the reader published %q: the test no longer shows the echo it guards against", got)
	}
}

// firstMariaDB starts a two-region lab and opens its first region's
// MariaDB (closed when the test ends); it returns the server's port.
func firstMariaDB(t *testing.T) (int, *sql.DB) {
	t.Helper()
	st := labtest.Up(t, "a", "b")
	port := st.Regions[0].MySQLPort
	db, err := lab.OpenMySQL(port, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return port, db
}
