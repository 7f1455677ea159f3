package apply

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/event"
)

// sbtestRun returns n encoded messages shaped like bench replication's
// oltp_write_only transactions: each updates k of one random row,
// updates c of another, and deletes and re-inserts a third, in one of 4
// sbtest tables of rows keys.
func sbtestRun(tb testing.TB, n int, rows int64) [][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	row := func(id int64) []event.Value {
		return []event.Value{{V: id}, {V: rng.Int64N(rows)}, {V: text(119)}, {V: text(59)}}
	}
	out := make([][]byte, n)
	for i := range out {
		t := event.Txn{GTID: fmt.Sprintf("1-1-%d", i+1), Bucket: -1, Tables: []event.Table{{
			Schema: "sbtest", Name: fmt.Sprintf("sbtest%d", 1+rng.IntN(4)), Cols: []string{"id", "k", "c", "pad"},
			Types: []byte{3, 3, 254, 254}, PK: []int{0},
		}}}
		a, c, d := 1+rng.Int64N(rows), 1+rng.Int64N(rows), 1+rng.Int64N(rows)
		beforeA, beforeC, beforeD := row(a), row(c), row(d)
		afterA := append([]event.Value(nil), beforeA...)
		afterA[1] = event.Value{V: beforeA[1].V.(int64) + 1}
		afterC := append([]event.Value(nil), beforeC...)
		afterC[2] = event.Value{V: text(119)}
		t.Rows = []event.Row{
			{Op: event.Update, Before: beforeA, After: afterA},
			{Op: event.Update, Before: beforeC, After: afterC},
			{Op: event.Delete, Before: beforeD},
			{Op: event.Insert, After: row(d)},
		}
		b, err := event.Encode(&event.Message{V: event.Version, Kind: event.KindTxn, Source: "a", Seq: uint64(i + 1),
			Pos: t.GTID, Time: time.Unix(1_700_000_000, 0).UTC(), Txn: &t})
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// BenchmarkFoldRun is the applier's own work for a folded run of 64
// sysbench-like transactions, none of it MySQL's: decode the messages,
// list each transaction's probes, fold the run, compute what it leaves
// and plan its statements (the pure part of worker.applyFolded). It
// reports the decode alone and the rest per run, and their ratio
// (plan/decode): decoding is the floor any applier of these messages
// pays. For instruction counts that repeat on a noisy machine:
//
//	go test -c -o /tmp/apply.test ./cdc/apply
//	valgrind --tool=callgrind /tmp/apply.test -test.run '^$' -test.bench FoldRun -test.benchtime 200x
func BenchmarkFoldRun(b *testing.B) {
	raw := sbtestRun(b, 64, 20000)
	checked := func(*event.Table) bool { return true }
	var decode, rest time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		ts := make([]*event.Txn, len(raw))
		for i, r := range raw {
			m, err := event.Decode(r)
			if err != nil {
				b.Fatal(err)
			}
			ts[i] = m.Txn
		}
		mid := time.Now()
		seen := map[string]bool{}
		for _, t := range ts {
			for _, pr := range probes(t, checked) {
				seen[keyString(pr.tb, pr.key())] = true
			}
		}
		all := fold(ts)
		ps := probes(all, checked)
		nt := netOf(all)
		nt.markFresh(ps)
		if len(nt.plan(dialectOf("mariadb"))) == 0 {
			b.Fatal("no statements")
		}
		decode, rest = decode+mid.Sub(start), rest+time.Since(mid)
	}
	n := float64(b.N)
	b.ReportMetric(float64(decode.Nanoseconds())/n, "decode-ns/run")
	b.ReportMetric(float64(rest.Nanoseconds())/n, "plan-ns/run")
	b.ReportMetric(float64(rest)/float64(decode), "plan/decode")
}
