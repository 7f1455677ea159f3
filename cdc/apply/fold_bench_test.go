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
		out[i] = encodeTxn(tb, uint64(i+1), &t)
	}
	return out
}

// paymentRun returns n encoded messages shaped like a lending app's
// payments between two of users users: both wallets and both users'
// totals updated, and a ledger entry inserted, in three tables (primary
// keys only: what a folded run may hold).
func paymentRun(tb testing.TB, n int, users int64) [][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	table := func(name string, cols ...string) event.Table {
		types := make([]byte, len(cols))
		for i := range types {
			types[i] = 8 // BIGINT
		}
		types[len(types)-1] = 15 // VARCHAR
		return event.Table{Schema: "lending", Name: name, Cols: cols, Types: types, PK: []int{0}}
	}
	out := make([][]byte, n)
	for i := range out {
		payer, payee := 1+rng.Int64N(users), 1+rng.Int64N(users)
		amount := 1 + rng.Int64N(500)
		balance := 100_000 + rng.Int64N(1000)
		t := event.Txn{GTID: fmt.Sprintf("1-1-%d", i+1), Bucket: -1, Tables: []event.Table{
			table("accounts", "id", "user_id", "balance_cents", "version", "kind"),
			table("ledger_totals", "user_id", "total_cents", "applied", "note"),
			table("ledger_entries", "id", "user_id", "amount_cents", "memo"),
		}}
		acct := func(user, delta int64) event.Row {
			before := []event.Value{{V: user*10 + 1}, {V: user}, {V: balance}, {V: int64(7)}, {V: "wallet"}}
			after := append([]event.Value(nil), before...)
			after[2], after[3] = event.Value{V: balance + delta}, event.Value{V: int64(8)}
			return event.Row{T: 0, Op: event.Update, Before: before, After: after}
		}
		total := func(user, delta int64) event.Row {
			before := []event.Value{{V: user}, {V: int64(50_000)}, {V: int64(3)}, {V: ""}}
			after := append([]event.Value(nil), before...)
			after[1] = event.Value{V: int64(50_000) + delta}
			return event.Row{T: 1, Op: event.Update, Before: before, After: after}
		}
		t.Rows = []event.Row{acct(payer, -amount), acct(payee, amount), total(payer, -amount), total(payee, amount),
			{T: 2, Op: event.Insert, After: []event.Value{{V: int64(i + 1)}, {V: payer}, {V: -amount}, {V: fmt.Sprintf("pay %d", payee)}}}}
		out[i] = encodeTxn(tb, uint64(i+1), &t)
	}
	return out
}

// encodeTxn encodes t as region a's seq-th message.
func encodeTxn(tb testing.TB, seq uint64, t *event.Txn) []byte {
	tb.Helper()
	b, err := event.Encode(&event.Message{V: event.Version, Kind: event.KindTxn, Source: "a", Seq: seq,
		Pos: t.GTID, Time: time.Unix(1_700_000_000, 0).UTC(), Txn: t})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkFoldRun is the applier's own work for a folded run of 64
// transactions (sysbench-like ones; a lending app's payments between two
// users), none of it MySQL's: decode the messages,
// list each transaction's probes, fold the run, compute what it leaves
// and plan its statements (the pure part of worker.applyFolded). It
// reports the decode alone and the rest per run, and their ratio
// (plan/decode): decoding is the floor any applier of these messages
// pays. For instruction counts that repeat on a noisy machine:
//
//	go test -c -o /tmp/apply.test ./cdc/apply
//	valgrind --tool=callgrind /tmp/apply.test -test.run '^$' -test.bench FoldRun -test.benchtime 200x
func BenchmarkFoldRun(b *testing.B) {
	b.Run("sbtest", func(b *testing.B) { benchmarkFold(b, sbtestRun(b, 64, 20000)) })
	b.Run("payments", func(b *testing.B) { benchmarkFold(b, paymentRun(b, 64, 2000)) })
}

func benchmarkFold(b *testing.B, raw [][]byte) {
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
