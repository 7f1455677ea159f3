package apply

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/lab/labtest"
)

// TestCheckpointCompareAndSetOnMariaDB: a worker commits only while the
// partition's checkpoint row holds the offset it last wrote. Once another
// applier (a new session of the link, or a second regiond by mistake) has
// moved the row, the worker's commit fails with ErrStaleSession and
// applies nothing, so a stale session cannot apply a message twice. (make test-unit skips
// it: it starts a MariaDB.)
func TestCheckpointCompareAndSetOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := labtest.MariaDB(t)
	if err := EnsureSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Source: "a", Target: "b", DB: db, Kafka: func() (sarama.Client, error) { return nil, errors.New("not used") }})
	if err != nil {
		t.Fatal(err)
	}
	newW := func() *worker {
		w, err := newWorker(ctx, a, 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.close)
		return w
	}
	zombie, owner := newW(), newW() // both loaded "no checkpoint yet"
	if err := zombie.commit(ctx, nil, Checkpoint{Offset: 10, Seq: 10}, 1); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	if err := owner.commit(ctx, nil, Checkpoint{Offset: 10, Seq: 10}, 1); !errors.Is(err, ErrStaleSession) {
		t.Fatalf("a second worker applying the same message: %v, want ErrStaleSession", err)
	}
	// The owner reloads (a new session) and goes on; the zombie, still
	// holding its old view, cannot commit after it.
	owner = newW()
	if err := owner.commit(ctx, nil, Checkpoint{Offset: 11, Seq: 11}, 1); err != nil {
		t.Fatalf("the owner after reloading: %v", err)
	}
	if _, err := db.Exec("CREATE TABLE _region.scratch (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	body := func(tx *sql.Tx) error { _, err := tx.Exec("INSERT INTO _region.scratch VALUES (99)"); return err }
	if err := zombie.commit(ctx, body, Checkpoint{Offset: 11, Seq: 11}, 1); !errors.Is(err, ErrStaleSession) {
		t.Fatalf("the zombie after the owner moved on: %v, want ErrStaleSession", err)
	}
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM _region.scratch").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("the zombie's refused commit left %d rows (%v), want none", rows, err)
	}
	cp, err := loadCheckpoint(ctx, db, "a", 3)
	if err != nil || cp.Offset != 11 {
		t.Fatalf("checkpoint %+v %v, want offset 11", cp, err)
	}
	var txns int
	if err := db.QueryRow("SELECT txns FROM _region.apply_checkpoints WHERE source = 'a' AND part = 3").Scan(&txns); err != nil || txns != 2 {
		t.Errorf("%d transactions counted (%v), want 2: the refused commits applied nothing", txns, err)
	}
}
