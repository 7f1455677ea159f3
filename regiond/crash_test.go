package regiond_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// TestCrashesLoseNothingApplyNothingTwice kills -9 the target's regiond
// and then the source's broker while the source writes, restarts them,
// and proves every row arrived exactly once: a trigger in the target logs
// each insert the applier commits.
func TestCrashesLoseNothingApplyNothingTwice(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL)")
	labapi.Converged(t, st, 30*time.Second)

	// In b only (not logged, so not replicated): count every applied
	// insert. The trigger reads the applier's session variable, so it is
	// one that knows the applier's writes (an unguarded one halts the link).
	b := openDB(t, st, "b", "")
	conn, err := b.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET SESSION sql_log_bin = 0", "CREATE DATABASE audit",
		"CREATE TABLE audit.applied (id BIGINT NOT NULL, via INT NULL, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))",
		"CREATE TRIGGER lending.count_applies BEFORE INSERT ON lending.ledger_entries FOR EACH ROW INSERT INTO audit.applied (id, via) VALUES (NEW.id, @region_apply)"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()

	const rows = 2000
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := int64(1); i <= rows; i++ {
			if _, err := a.Exec("INSERT INTO lending.ledger_entries VALUES (?, ?, ?)", i, i%97, i*10); err != nil {
				done <- err
				return
			}
			written.Store(i)
			time.Sleep(time.Millisecond)
		}
		done <- nil
	}()
	waitFor := func(n int64) {
		for written.Load() < n {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ctx := context.Background()
	opts := lab.Options{Dir: st.Dir, Bin: labtest.Bin()}
	waitFor(rows / 4)
	if err := lab.Kill(ctx, st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed regiond b at row %d", written.Load())
	time.Sleep(500 * time.Millisecond)
	if err := lab.Start(ctx, opts, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	waitFor(rows / 2)
	if err := lab.Kill(ctx, st.Dir, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed broker a at row %d", written.Load())
	time.Sleep(500 * time.Millisecond)
	if err := lab.Start(ctx, opts, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, _ = lab.LoadState(st.Dir) // new pids
	labapi.Converged(t, st, 2*time.Minute)

	var n, applies, twice, outside int
	b.QueryRow("SELECT COUNT(*) FROM lending.ledger_entries").Scan(&n)
	b.QueryRow("SELECT COUNT(*) FROM audit.applied").Scan(&applies)
	b.QueryRow("SELECT COUNT(*) FROM (SELECT id FROM audit.applied GROUP BY id HAVING COUNT(*) > 1) d").Scan(&twice)
	b.QueryRow("SELECT COUNT(*) FROM audit.applied WHERE via IS NULL OR via <> 1").Scan(&outside)
	if n != rows || applies != rows || twice != 0 || outside != 0 {
		t.Errorf("b has %d of %d rows; %d inserts applied, %d rows applied more than once, %d inserted without the applier's @region_apply", n, rows, applies, twice, outside)
	}
	sameTables(t, st, "lending.ledger_entries")
}

// TestLostKafkaLogHaltsTheLink: when the source topic no longer holds what
// the target applied (here: deleted and recreated, as a broker that lost
// acknowledged messages would look), the link halts and says why instead
// of skipping ahead.
func TestLostKafkaLogHaltsTheLink(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)
	if err := lab.Kill(context.Background(), st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	ra, _ := st.Region("a")
	sc := sarama.NewConfig()
	admin, err := sarama.NewClusterAdmin([]string{fmt.Sprintf("127.0.0.1:%d", ra.KafkaPort)}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topic := capture.Topic("a")
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 8, ReplicationFactor: 1}, false)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreate topic: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := lab.Start(context.Background(), lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		s, err := status(t, st, "b")
		if err == nil && len(s.Links) == 1 && s.Links[0].State == "halted" {
			if !strings.Contains(s.Links[0].Error, "the Kafka log does not match what was applied") {
				t.Errorf("halt reason: %s", s.Links[0].Error)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("link a->b kept running on a log that lost what it had applied: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
