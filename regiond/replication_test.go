package regiond_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/capture"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/verify"
)

// status asks a region's regiond for its status.
func status(t *testing.T, st *lab.State, region string) (*api.Status, error) {
	t.Helper()
	return labapi.Client(t, st, region).Status(context.Background())
}

func openDB(t *testing.T, st *lab.State, region, db string) *sql.DB {
	t.Helper()
	r, _ := st.Region(region)
	d, err := lab.OpenMySQL(r.MySQLPort, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// sameTables checks the tables are identical in every region, as
// regionctl verify compares them (the caller waited for convergence: no
// re-checks).
func sameTables(t *testing.T, st *lab.State, tables ...string) {
	t.Helper()
	var regions []verify.Region
	for _, r := range st.Regions {
		regions = append(regions, verify.Region{Name: r.Name, DB: openDB(t, st, r.Name, "")})
	}
	cfg := verify.DefaultConfig()
	cfg.Rechecks = 0
	res, err := verify.Compare(context.Background(), cfg, regions, tables)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal() {
		t.Errorf("tables differ: %s", strings.Join(res.Differences(10), "; "))
		return
	}
	for _, tr := range res.Tables {
		t.Logf("%s: %d rows, identical in every region", tr.Table, tr.Rows)
	}
}

func createSchema(t *testing.T, st *lab.State, region string) {
	t.Helper()
	db := openDB(t, st, region, "")
	mustExec(t, db, lab.SampleSchema...)
}

var sampleTables = []string{"lending.users", "lending.loan_accounts", "lending.ledger_entries"}

// TestReplicationBothWaysNoEcho: both regions write their own users at
// once; each change reaches the other region once, and no applied change
// is captured again.
func TestReplicationBothWaysNoEcho(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a") // b gets the schema by replication
	labapi.Converged(t, st, 30*time.Second)
	res, err := lab.RunWorkload(context.Background(), st, lab.Workload{Users: 300, FirstUser: 1, Repayments: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	all := labapi.Converged(t, st, 60*time.Second)
	sameTables(t, st, sampleTables...)
	// Capture published exactly the region's own transactions: the schema
	// (in a) and the workload, nothing an applier wrote.
	want := map[string]uint64{"a": uint64(len(lab.SampleSchema) + res[0].Transactions), "b": uint64(res[1].Transactions)}
	for name, s := range all {
		if s.Capture.Txns != want[name] || s.Capture.Published.Seq != want[name] {
			t.Errorf("region %s captured %d transactions (seq %d), want its own %d", name, s.Capture.Txns, s.Capture.Published.Seq, want[name])
		}
		if s.Capture.Echoes == 0 {
			t.Errorf("region %s skipped no echoes: loop prevention not exercised", name)
		}
	}
}

// TestPausedLinkWaits: an operator pauses a->b (maintenance of b); a's
// writes wait in a's Kafka, also across a restart of b's regiond, while
// b's writes still reach a; resumed, b catches up.
func TestPausedLinkWaits(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)
	ctx := context.Background()
	c := labapi.Client(t, st, "b")
	l, err := c.PauseLink(ctx, "a", api.PauseRequest{Reason: "index rebuild on b"})
	if err != nil || l.State != apply.StatePaused || l.Pause == nil || l.Pause.Reason != "index rebuild on b" {
		t.Fatalf("pause: %+v, %v; want the link paused with its reason", l, err)
	}
	if _, err := c.PauseLink(ctx, "a", api.PauseRequest{Reason: "again"}); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("a second pause: %v, want 409", err)
	}
	if _, err := c.PauseLink(ctx, "a", api.PauseRequest{}); !client.IsStatus(err, http.StatusBadRequest) {
		t.Errorf("a pause without a reason: %v, want 400", err)
	}
	atPause := l.AppliedSeq
	if _, err := lab.RunWorkload(ctx, st, lab.Workload{Users: 60, FirstUser: 1, Repayments: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	// b's regiond restarts: the pause is b's, not its process's.
	if err := lab.Kill(ctx, st.Dir, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Start(ctx, lab.Options{Dir: st.Dir, Bin: labtest.Bin()}, "b", "regiond"); err != nil {
		t.Fatal(err)
	}
	var ab, ba apply.LinkStatus
	deadline := time.Now().Add(30 * time.Second)
	for {
		sa, erra := status(t, st, "a")
		sb, errb := status(t, st, "b")
		if erra == nil && errb == nil && len(sa.Links) == 1 && len(sb.Links) == 1 {
			ab, ba = sb.Links[0], sa.Links[0]
			// b's own writes reached a: the other direction is not paused.
			if ab.State == apply.StatePaused && ab.PublishedSeq > atPause && ba.LagTxns == 0 && ba.AppliedSeq == ba.PublishedSeq && ba.AppliedSeq > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after b's restart: a->b %+v, b->a %+v; want a->b paused behind and b->a caught up", ab, ba)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ab.AppliedSeq != atPause || ab.LagTxns == 0 || ab.Pause == nil || !strings.Contains(ab.Error, "index rebuild on b") {
		t.Errorf("paused a->b applied seq %d (at the pause %d), lag %d, %q: want nothing applied, the reason shown", ab.AppliedSeq, atPause, ab.LagTxns, ab.Error)
	}
	// A switch's wait for a's position: a paused link answers at once,
	// not covered; once resumed, the answer comes when it is applied.
	var pos string
	if err := openDB(t, st, "a", "").QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if v, err := c.LinkApplied(ctx, "a", pos, 5*time.Second); err != nil || v.Covered || v.Link.State != apply.StatePaused || time.Since(start) > 4*time.Second {
		t.Errorf("wait for %s on the paused link: %+v %v after %s, want not covered, paused, at once", pos, v, err, time.Since(start))
	}
	for _, bad := range []struct{ gtid, wait string }{{"", "1s"}, {pos, "20s"}, {pos, "soon"}, {"not a gtid", "1s"}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/v1/links/a/applied?gtid="+url.QueryEscape(bad.gtid)+"&wait="+url.QueryEscape(bad.wait), nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("applied?gtid=%q&wait=%s: %s, want 400", bad.gtid, bad.wait, resp.Status)
		}
	}
	if _, err := c.LinkApplied(ctx, "zz", pos, time.Second); !client.IsStatus(err, http.StatusNotFound) {
		t.Errorf("applied on a link that does not exist: %v, want 404", err)
	}
	if _, err := c.ResumeLink(ctx, "a", api.PauseRequest{Reason: "index rebuilt"}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.LinkApplied(ctx, "a", pos, api.MaxAppliedWait); err != nil || !v.Covered {
		t.Errorf("wait for %s after the resume: %+v %v, want covered", pos, v, err)
	}
	if _, err := c.ResumeLink(ctx, "a", api.PauseRequest{Reason: "again"}); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("a second resume: %v, want 409", err)
	}
	labapi.Converged(t, st, 60*time.Second)
	sameTables(t, st, sampleTables...)
}

// TestMeshOfThree: three regions, each writing, all converge.
func TestMeshOfThree(t *testing.T) {
	st := labtest.Up(t, "a", "b", "c")
	createSchema(t, st, "b")
	labapi.Converged(t, st, 30*time.Second)
	if _, err := lab.RunWorkload(context.Background(), st, lab.Workload{Users: 300, FirstUser: 1, Repayments: 2, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	all := labapi.Converged(t, st, 60*time.Second)
	sameTables(t, st, sampleTables...)
	for name, s := range all {
		if len(s.Links) != 2 {
			t.Errorf("%s has %d inbound links", name, len(s.Links))
		}
	}
}

// TestLargeTransactionAndAlter: a 200,000-row transaction travels in
// fragments and applies atomically; a column added mid-stream is applied
// in order with the rows that use it.
func TestLargeTransactionAndAlter(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.ledger_entries (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL, note VARCHAR(64))",
		"CREATE TABLE lending.seq (n INT PRIMARY KEY)",
		"INSERT INTO lending.seq SELECT seq FROM lending.seq_1_to_1000")
	t0 := time.Now()
	mustExec(t, a, "INSERT INTO lending.ledger_entries SELECT s1.n * 1000 + s2.n, s1.n, s2.n, 'bulk payout run' FROM lending.seq s1 JOIN lending.seq s2 WHERE s1.n <= 200")
	mustExec(t, a, "ALTER TABLE lending.ledger_entries ADD COLUMN currency CHAR(3) NOT NULL DEFAULT 'EUR'",
		"INSERT INTO lending.ledger_entries (id, user_id, amount_cents, currency) VALUES (1, 1, 5, 'USD')")
	labapi.Converged(t, st, 3*time.Minute)
	t.Logf("200,000-row transaction replicated in %s", time.Since(t0).Round(time.Millisecond))
	b := openDB(t, st, "b", "")
	var n int
	var cur string
	if err := b.QueryRow("SELECT COUNT(*) FROM lending.ledger_entries").Scan(&n); err != nil || n != 200001 {
		t.Errorf("b has %d rows (%v), want 200001", n, err)
	}
	if err := b.QueryRow("SELECT currency FROM lending.ledger_entries WHERE id = 1").Scan(&cur); err != nil || cur != "USD" {
		t.Errorf("row written after ALTER: %q %v", cur, err)
	}
	sameTables(t, st, "lending.ledger_entries")
}

// TestPoisonMessageHaltsItsPartition: a message that cannot be applied
// stops its partition with the reason in status; other partitions go on.
func TestPoisonMessageHaltsItsPartition(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)
	poisoned := st.PartitionCount() - 1
	poison(t, st, "a", poisoned)
	// Users in other partitions keep replicating.
	if _, err := lab.RunWorkload(context.Background(), st, lab.Workload{Users: 200, FirstUser: 1, Repayments: 1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := status(t, st, "b")
		if err == nil && len(s.Links) == 1 && s.Links[0].State == "halted" {
			l := s.Links[0]
			if !strings.Contains(l.Error, fmt.Sprintf("partition %d", poisoned)) || !strings.Contains(l.Error, "invalid message") {
				t.Errorf("halt reason = %q", l.Error)
			}
			running := 0
			for _, ps := range l.Partitions {
				if ps.Partition != poisoned && ps.State == "running" && ps.Txns > 0 {
					running++
				}
			}
			if running == 0 {
				t.Errorf("no other partition applied anything: %+v", l.Partitions)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link a->b never reported the poison message: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The log names it too.
	r, _ := st.Region("b")
	if log := readFile(t, r.Regiond.Log); !strings.Contains(log, "partition halted") {
		t.Error("halt not logged")
	}
	_ = filepath.Join

	// An operator skips it (it does not decode: no seq, no GTID, kept as
	// it was): quarantined, audited, shown until resolved;
	// the partition runs again and what comes after it arrives.
	ctx := context.Background()
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{BaseURL: r.APIURL(), Token: tok}
	if _, err := c.SkipLink(ctx, "a", api.SkipRequest{Partition: poisoned - 1, Reason: "wrong partition"}); !client.IsStatus(err, http.StatusConflict) {
		t.Errorf("skip of a running partition: %v, want 409", err)
	}
	q, err := c.SkipLink(ctx, "a", api.SkipRequest{Partition: poisoned, Reason: "test message sent by hand"})
	if err != nil || q.Seq != 0 || q.GTID != "" || !strings.Contains(q.Payload, `"rows":[{"t":5`) || !strings.Contains(q.Error, "invalid message") {
		t.Fatalf("skip: %+v %v", q, err)
	}
	if _, err := lab.RunWorkload(ctx, st, lab.Workload{Users: 50, FirstUser: 1001, Repayments: 1, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	labapi.Converged(t, st, time.Minute)
	v, err := c.Link(ctx, "a")
	if err != nil || v.Link.State != "running" || v.Link.Quarantined != 1 || len(v.Quarantine) != 1 || v.Quarantine[0].SkippedBy != "lab-operator" {
		t.Fatalf("after the skip: %+v %v", v, err)
	}
	if err := c.ResolveQuarantined(ctx, "a", q.ID, api.ResolveRequest{Resolution: "nothing to repair: a test message"}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Link(ctx, "a"); err != nil || v.Link.Quarantined != 0 || v.Quarantine[0].ResolvedAt == nil {
		t.Fatalf("after resolve: %+v %v", v, err)
	}
	if log := readFile(t, filepath.Join(st.Dir, "b", "regiond", "audit.log")); !strings.Contains(log, `"action":"link.skip"`) || !strings.Contains(log, `"action":"link.resolve"`) {
		t.Error("skip and resolve not in the audit log")
	}
}

// TestRewrittenDDLDoesNotLoop: MariaDB rewrites DROP TABLE in its binlog
// (dropping the applier's comment marker); the applied drop must still
// not be captured again in the target and sent back.
func TestRewrittenDDLDoesNotLoop(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	a := openDB(t, st, "a", "")
	mustExec(t, a, "CREATE DATABASE lending",
		"CREATE TABLE lending.t1 (id INT PRIMARY KEY)", "CREATE TABLE lending.t2 (id INT PRIMARY KEY)",
		"DROP TABLE IF EXISTS lending.t1", "DROP TABLE lending.t2", "DROP TABLE IF EXISTS lending.never_existed",
		"CREATE TABLE lending.t1 (id INT PRIMARY KEY, v INT)", "INSERT INTO lending.t1 VALUES (1, 1)")
	all := labapi.Converged(t, st, 30*time.Second)
	time.Sleep(time.Second) // a looping statement would be published again by now
	all = labapi.Converged(t, st, 30*time.Second)
	if got := all["b"].Capture.Txns; got != 0 {
		t.Errorf("region b published %d transactions, want 0: an applied schema change came back", got)
	}
	if got, want := all["a"].Capture.Txns, uint64(8); got != want {
		t.Errorf("region a published %d transactions, want its own %d", got, want)
	}
	var v int
	if err := openDB(t, st, "b", "").QueryRow("SELECT v FROM lending.t1 WHERE id = 1").Scan(&v); err != nil || v != 1 {
		t.Errorf("b: lending.t1 row: %d %v", v, err)
	}
}

// haltedLink waits (up to timeout) until region's one inbound link is
// halted and returns its reason; it fails the test with what when it
// does not halt.
func haltedLink(t *testing.T, st *lab.State, region string, timeout time.Duration, what string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if s, err := status(t, st, region); err == nil && len(s.Links) == 1 && s.Links[0].State == "halted" {
			return s.Links[0].Error
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link into %s did not halt within %s: %s", region, timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// poison sends a message no applier can apply (a row of a table the
// message does not describe) to partition part of region's topic.
func poison(t *testing.T, st *lab.State, region string, part int32) {
	t.Helper()
	r, _ := st.Region(region)
	sc := sarama.NewConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{fmt.Sprintf("127.0.0.1:%d", r.KafkaPort)}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := fmt.Sprintf(`{"v":1,"kind":"txn","src":%q,"seq":999999,"txn":{"gtid":"1-1-999999","bucket":1,"rows":[{"t":5,"op":"i"}]}}`, region)
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: capture.Topic(region), Partition: part, Value: sarama.StringEncoder(msg)}); err != nil {
		t.Fatal(err)
	}
}
