package seed_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/seed"
	"github.com/regionplatform/region/lab/labtest"
)

// TestCheckBinlog: a server whose binlog lacks what capture published
// (its data folder was lost, and the server made anew) is refused until a
// rebuild is recorded done; then its binlog's numbering continues from
// what capture published, once.
func TestCheckBinlog(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	mustExec(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	var end string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&end); err != nil {
		t.Fatal(err)
	}
	// What the binlog holds: nothing to do.
	if err := seed.CheckBinlog(ctx, db, "mariadb", end, nil); err != nil {
		t.Fatalf("a binlog that holds the checkpoint: %v", err)
	}
	if err := seed.CheckBinlog(ctx, db, "mariadb", "", nil); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	// Capture had published far more than this server's binlog holds.
	published := "1-1-4000"
	var err error
	err = seed.CheckBinlog(ctx, db, "mariadb", published, nil)
	if !errors.Is(err, seed.ErrBinlogBehind) || !strings.Contains(err.Error(), "regionctl region rebuild") {
		t.Fatalf("a binlog behind capture, no rebuild: %v; want ErrBinlogBehind naming the rebuild", err)
	}
	// A table with a trigger is kept aside too (a trigger cannot move
	// between databases: it goes, the copy brings the donor's).
	mustExec(t, db, "CREATE TRIGGER app.t_bi BEFORE INSERT ON app.t FOR EACH ROW SET NEW.id = NEW.id")
	kept, err := seed.PrepareRebuild(ctx, db, "a", []string{"app.t"}, "disk lost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if len(kept) != 1 || db.QueryRow("SELECT COUNT(*) FROM "+kept[0].KeptAs).Scan(&n) != nil || n != 1 {
		t.Fatalf("kept aside %+v: want app.t with its row", kept)
	}
	if err := seed.CheckBinlog(ctx, db, "mariadb", published, nil); !errors.Is(err, seed.ErrBinlogBehind) {
		t.Fatalf("a rebuild not finished: %v; want ErrBinlogBehind", err)
	}
	if err := seed.FinishRebuild(ctx, db, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := seed.CheckBinlog(ctx, db, "mariadb", published, nil); err != nil {
		t.Fatalf("after a finished rebuild: %v", err)
	}
	mustExec(t, db, "CREATE TABLE app.u (id INT PRIMARY KEY)")
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&end); err != nil {
		t.Fatal(err)
	}
	if end != "1-1-4001" {
		t.Errorf("the next transaction after the continued binlog is %q; want 1-1-4001", end)
	}
	var note string
	if err := db.QueryRow("SELECT binlog_note FROM _region.rebuilds").Scan(&note); err != nil || !strings.Contains(note, "continued from it") {
		t.Errorf("rebuild record: %q %v", note, err)
	}
	// Once: a later binlog loss is refused again.
	mustExec(t, db, "RESET MASTER")
	if err := seed.CheckBinlog(ctx, db, "mariadb", "1-1-4001", nil); !errors.Is(err, seed.ErrBinlogBehind) {
		t.Errorf("a second loss without a second rebuild: %v; want ErrBinlogBehind", err)
	}
}
