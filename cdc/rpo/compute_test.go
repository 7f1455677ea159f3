package rpo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/cdc/rpo"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

func compute(t *testing.T, cfg rpo.Config) (rpo.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return rpo.Compute(ctx, cfg)
}

// checkLost checks res lists exactly want, in commit order, each a
// one-row insert into lending.users.
func checkLost(t *testing.T, res rpo.Result, want []written) {
	t.Helper()
	if res.LostCount != int64(len(want)) || len(res.Lost) != len(want) {
		t.Fatalf("lost %d (%d listed), want %d: %+v", res.LostCount, len(res.Lost), len(want), res)
	}
	for i, l := range res.Lost {
		w := want[i]
		if l.GTID != w.gtid || l.Partition != w.part || l.Rows != 1 || !slices.Equal(l.Tables, []string{"lending.users"}) || l.Time.IsZero() {
			t.Errorf("lost[%d] = %+v, want GTID %s (user %d) in partition %d, 1 row of lending.users", i, l, w.gtid, w.user, w.part)
		}
		if want := fmt.Sprintf("insert lending.users id=%d", w.user); !slices.Equal(l.Changes, []string{want}) {
			t.Errorf("lost[%d] changes %q, want [%q]", i, l.Changes, want)
		}
	}
	if got := expand(t, res.LostGTIDs); !slices.Equal(got, gtids(want)) {
		t.Errorf("LostGTIDs %q is %v, want %v", res.LostGTIDs, got, gtids(want))
	}
}

// TestNothingLostThenPartitionsAhead: after convergence nothing is lost.
// Then one partition of a->b halts (a poison message), a writes users in
// every partition, and the other partitions apply theirs past the
// watermark: exactly the halted partition's transactions are lost, and
// none of those applied ahead of the watermark.
func TestNothingLostThenPartitionsAhead(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a, b := openDB(t, st, "a"), openDB(t, st, "b")
	mustExec(t, a, lab.SampleSchema...)
	src, cfg := source(t, st, "a")
	writeUsers(t, a, cfg.Buckets, st.PartitionCount(), 1, 20)
	l := link(t, st, "b", "a", time.Minute, caughtUp(binlogPos(t, a)))

	res, err := compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l})
	if err != nil {
		t.Fatal(err)
	}
	if res.LostCount != 0 || res.LostGTIDs != "" || len(res.Lost) != 0 {
		t.Fatalf("converged, yet lost: %+v", res)
	}
	// a's own applier keeps writing checkpoints (echoes) after l was read,
	// so a's end may be past the watermark; all of it counts as applied.
	if res.LastAppliedGTID != res.ReadUpTo || !covers(t, res.LastAppliedGTID, l.AppliedGTID) {
		t.Errorf("last applied %q, read up to %q, watermark %q", res.LastAppliedGTID, res.ReadUpTo, l.AppliedGTID)
	}
	if covers(t, l.AppliedGTID, res.ReadUpTo) && res.LastAppliedGTID != l.AppliedGTID {
		t.Errorf("nothing after the watermark %q, yet last applied %q", l.AppliedGTID, res.LastAppliedGTID)
	}
	t.Logf("nothing lost: watermark %s, read up to %s", l.AppliedGTID, res.ReadUpTo)

	// Halt partition 3 of a->b with a message b cannot apply.
	halted := st.PartitionCount() - 1
	ra, _ := st.Region("a")
	sc := sarama.NewConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{fmt.Sprintf("127.0.0.1:%d", ra.KafkaPort)}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: capture.Topic("a"), Partition: halted, Value: sarama.StringEncoder(`{"v":1,"kind":"txn","src":"a","seq":999999,"txn":{"gtid":"1-1-999999","bucket":1,"rows":[{"t":5,"op":"i"}]}}`)}); err != nil {
		t.Fatal(err)
	}
	link(t, st, "b", "a", 30*time.Second, func(l apply.LinkStatus) bool { return l.State == "halted" })

	ws := writeUsers(t, a, cfg.Buckets, st.PartitionCount(), 1000, 40)
	end := binlogPos(t, a)
	var lost []written
	for _, w := range ws {
		if w.part == halted {
			lost = append(lost, w)
		}
	}
	if len(lost) == 0 || len(lost) == len(ws) {
		t.Fatalf("%d of %d users in partition %d: pick other users", len(lost), len(ws), halted)
	}
	// Every other partition applies past the watermark.
	l = link(t, st, "b", "a", time.Minute, func(l apply.LinkStatus) bool {
		for _, ps := range l.Partitions {
			if ps.Partition != halted && !covers(t, ps.Pos, end) {
				return false
			}
		}
		return true
	})
	if covers(t, l.AppliedGTID, ws[0].gtid) {
		t.Fatalf("the watermark %q includes %s: partition %d did not halt", l.AppliedGTID, ws[0].gtid, halted)
	}
	res, err = compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l})
	if err != nil {
		t.Fatal(err)
	}
	checkLost(t, res, lost)
	if covers(t, res.LastAppliedGTID, lost[0].gtid) || !covers(t, res.LastAppliedGTID, l.AppliedGTID) {
		t.Errorf("last applied %q: want from the watermark %q to before %s", res.LastAppliedGTID, l.AppliedGTID, lost[0].gtid)
	}
	// b agrees: it has every user the result does not call lost.
	for _, w := range ws {
		var n int
		if err := b.QueryRow("SELECT COUNT(*) FROM lending.users WHERE id = ?", w.user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[w.part == halted]; n != want {
			t.Errorf("user %d (partition %d): b has %d rows, want %d", w.user, w.part, n, want)
		}
	}
	t.Logf("%d of %d transactions lost (partition %d), %d applied past the watermark: %s", res.LostCount, len(ws), halted, len(ws)-len(lost), res.LostGTIDs)
}

// TestLostWhileBrokerDown: with a's broker down, a's capture cannot
// publish, so what a commits then is exactly what b lacks. Then a's
// binlog after the watermark is purged (not exact any more), then a's
// MySQL dies (unreachable).
func TestLostWhileBrokerDown(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a")
	mustExec(t, a, lab.SampleSchema...)
	src, cfg := source(t, st, "a")
	writeUsers(t, a, cfg.Buckets, st.PartitionCount(), 1, 20)
	link(t, st, "b", "a", time.Minute, caughtUp(binlogPos(t, a)))

	ctx := context.Background()
	if err := lab.Kill(ctx, st.Dir, "a", "broker"); err != nil {
		t.Fatal(err)
	}
	const n = 25
	ws := writeUsers(t, a, cfg.Buckets, st.PartitionCount(), 100, n)
	l := link(t, st, "b", "a", 30*time.Second, anyLink)
	if covers(t, l.AppliedGTID, ws[0].gtid) {
		t.Fatalf("b's watermark %q includes %s, written with a's broker down", l.AppliedGTID, ws[0].gtid)
	}
	res, err := compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l})
	if err != nil {
		t.Fatal(err)
	}
	checkLost(t, res, ws)
	if !covers(t, res.ReadUpTo, ws[n-1].gtid) {
		t.Errorf("read up to %q, before the last write %s", res.ReadUpTo, ws[n-1].gtid)
	}
	t.Logf("lost %d: %s (watermark %s)", res.LostCount, res.LostGTIDs, l.AppliedGTID)

	// Listing is capped; counting is not.
	res, err = compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l, MaxListed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.LostCount != n || len(res.Lost) != 5 || res.Lost[4].GTID != ws[4].gtid {
		t.Errorf("MaxListed 5: lost %d, listed %d", res.LostCount, len(res.Lost))
	}

	// Purge a's binlog up to the current file: the watermark's is gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var file string
		var pos any
		var rest [2]any
		mustExec(t, a, "FLUSH BINARY LOGS")
		if err := a.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, &rest[0], &rest[1]); err != nil {
			t.Fatal(err)
		}
		// A log a reader (a's restarting capture) is in may not be
		// purged yet: try again.
		_, perr := a.Exec("PURGE BINARY LOGS TO '" + file + "'")
		var first string
		if err := a.QueryRow("SHOW BINARY LOGS").Scan(&first, &pos); err != nil {
			t.Fatal(err)
		}
		if first == file {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not purge a's binlogs before %s (first is %s): %v", file, first, perr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err = compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l})
	if !errors.Is(err, rpo.ErrNotExact) {
		t.Fatalf("purged binlog: got %v, want ErrNotExact", err)
	}
	t.Logf("purged: %v", err)

	if err := lab.Kill(ctx, st.Dir, "a", "mysql"); err != nil {
		t.Fatal(err)
	}
	_, err = compute(t, rpo.Config{Source: src, Partitions: st.PartitionCount(), Link: l, DialTimeout: 2 * time.Second})
	if !errors.Is(err, rpo.ErrUnreachable) {
		t.Fatalf("a's MySQL killed: got %v, want ErrUnreachable", err)
	}
	t.Logf("unreachable: %v", err)
}
