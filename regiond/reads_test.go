package regiond_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/gateway"
	"github.com/regionplatform/region/router/guard"
)

// TestReadLevelsOnLab runs users of region a on a lab whose a->b Kafka
// path has WAN latency (the link from a to b lags): 1,000 writes through
// a's gateway each followed at once by a session read of the user's
// history through b's gateway with the write's token: every read sees its
// write, served by b once it applied it or forwarded to a; a session that
// wrote two users sees the first's write with the second's token. Then writers
// move money through a's gateway while readers read the history through
// b's gateway bounded by 300ms, and the latency rises past the bound for
// a while: no read returns a history older than its bound against the
// writers' acknowledgements, and the reads are forwarded while the lag
// exceeds it.
func TestReadLevelsOnLab(t *testing.T) {
	if lab.HeaderGTID != gateway.HeaderGTID {
		t.Fatalf("the lab app reports its commits in %s, the gateway reads %s", lab.HeaderGTID, gateway.HeaderGTID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := labtest.UpWith(t, lab.Options{WAN: true}, "a", "b")
	if err := ledger.CreateSchema(ctx, st, time.Minute); err != nil {
		t.Fatal(err)
	}
	w, err := lab.OpenWAN(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	gwA := st.Regions[0].GatewayURL()
	gwB := st.Regions[1].GatewayURL()
	var users []int64
	for u := int64(5001); len(users) < 20; u++ {
		if st.HomeRegion(u) == 0 {
			users = append(users, u)
		}
	}
	wl := ledger.Workload{Gateways: []string{gwA}, Users: users}
	if err := wl.Open(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	// b's applier of a's stream: every byte from a's Kafka waits 40ms.
	if err := w.Latency("b", "a", 40*time.Millisecond, 10*time.Millisecond, lab.KindKafka); err != nil {
		t.Fatal(err)
	}

	t.Run("session", func(t *testing.T) {
		var mu sync.Mutex
		served := map[string]int{}
		var missed []string
		var waits []time.Duration
		var wg sync.WaitGroup
		for _, u := range users[:10] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range 100 {
					rid := fmt.Sprintf("s-%d-%d", u, n)
					token, err := move(ctx, gwA, u, rid)
					if err != nil {
						t.Errorf("user %d: %v", u, err)
						return
					}
					start := time.Now()
					h, where, err := readHistory(ctx, gwB, u, "session", token)
					took := time.Since(start)
					mu.Lock()
					served[where]++
					waits = append(waits, took)
					if err != nil || !slices.Contains(h.Requests, rid) {
						missed = append(missed, fmt.Sprintf("%s (served by %s %s, %v)", rid, where, h.Region, err))
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
		t.Logf("1000 session reads in b right after a write in a: %d served by b, %d forwarded to a; read time p50 %s, p99 %s",
			served["local"], served["owner"], waits[len(waits)/2].Round(time.Millisecond), waits[len(waits)*99/100].Round(time.Millisecond))
		if len(missed) > 0 {
			t.Errorf("%d session reads did not see their write: %v", len(missed), missed[:min(5, len(missed))])
		}
		if served["local"] == 0 {
			t.Error("no session read was served by b: the wait for the link never succeeded")
		}
		if served["local"]+served["owner"] != 1000 {
			t.Errorf("reads: %v", served)
		}
		// A session writes two users (an operator booking for a couple,
		// each in its own bucket and partition), then reads the first
		// with the second write's token: it sees both.
		for n := range 100 {
			u1, u2 := users[n%10], users[(n+3)%10]
			r1 := fmt.Sprintf("p-%d-%d", u1, n)
			if _, err := move(ctx, gwA, u1, r1); err != nil {
				t.Fatal(err)
			}
			token, err := move(ctx, gwA, u2, fmt.Sprintf("p-%d-%d", u2, n))
			if err != nil {
				t.Fatal(err)
			}
			h, where, err := readHistory(ctx, gwB, u1, "session", token)
			if err != nil || !slices.Contains(h.Requests, r1) {
				t.Errorf("user %d's write %s is missing from a session read in b (served %s) after the session's next write, to user %d: %v", u1, r1, where, u2, err)
			}
		}
	})

	t.Run("guard", func(t *testing.T) {
		// An application of region b deciding with the Go guard: a strong
		// read of a user of a names a; a session read waits until b's
		// stored watermark holds the write, or names a; a bounded read asks
		// b's regiond how old its copy is.
		g := runGuard(t, st, guard.Config{ID: "reads-guard", Region: "b", Staleness: labapi.Client(t, st, "b")})
		var err error
		b := openDB(t, st, "b", "")
		u := users[0]
		if _, err := g.Read(ctx, b, "strong", fmt.Sprint(u), guard.SessionToken{}, 0); !errors.Is(err, guard.ErrNotOwner) || !strings.Contains(err.Error(), "region a") {
			t.Errorf("a strong read in b of a user of a: %v, want ErrNotOwner naming a", err)
		}
		local, stale := 0, 0
		for n := range 50 {
			rid := fmt.Sprintf("g-%d-%d", u, n)
			token, err := move(ctx, gwA, u, rid)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := guard.ParseSessionToken(token)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := g.Read(ctx, b, "session", fmt.Sprint(u), tok, 500*time.Millisecond)
			switch {
			case err == nil && rd.Local:
				local++
				var rows int
				b.QueryRow("SELECT COUNT(*) FROM lending.requests WHERE request_id = ?", rid).Scan(&rows)
				if rows != 1 {
					t.Errorf("the guard let a session read in b before b applied %s", tok.GTID)
				}
			case errors.Is(err, guard.ErrStale) && rd.Owner == "a":
				stale++
			default:
				t.Errorf("a session read: %+v %v", rd, err)
			}
		}
		t.Logf("50 guard session reads in b right after a write in a: %d local, %d sent to a", local, stale)
		if local == 0 {
			t.Error("no session read was local: the stored watermark never covered the write within 500ms")
		}
		// Bounded: b's regiond answers from its position samples (the
		// first asks start them).
		var rd guard.Read
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if rd, err = g.Read(ctx, b, "bounded=2s", fmt.Sprint(u), guard.SessionToken{}, 0); err == nil && rd.Local {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a read bounded by 2s was never local in b (link lag ~100ms): %+v %v", rd, err)
			}
		}
		if rd, err = g.Read(ctx, b, "bounded=1ms", fmt.Sprint(u), guard.SessionToken{}, 0); !errors.Is(err, guard.ErrStale) || rd.Owner != "a" {
			t.Errorf("a read bounded by 1ms in b: %+v %v, want ErrStale naming a", rd, err)
		}
		if _, err = g.Read(ctx, b, "bounded", fmt.Sprint(u), guard.SessionToken{}, 0); err == nil || !strings.Contains(err.Error(), "not a consistency level") {
			t.Errorf("level bounded without a bound: %v", err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		const bound = 300 * time.Millisecond
		// One writer per user: its acknowledgements in order.
		var mu sync.Mutex
		acks := map[int64][]time.Time{}
		type read struct {
			user    int64
			start   time.Time
			applied int64
			where   string
		}
		var reads []read
		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		base := map[int64]int64{}
		for _, u := range users[10:] {
			h, _, err := readHistory(ctx, gwA, u, "strong", "")
			if err != nil {
				t.Fatal(err)
			}
			base[u] = h.Applied
		}
		for _, u := range users[10:] {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for n := 0; rctx.Err() == nil; n++ {
					if _, err := move(rctx, gwA, u, fmt.Sprintf("b-%d-%d", u, n)); err != nil {
						if rctx.Err() == nil {
							t.Errorf("user %d: %v", u, err)
						}
						return
					}
					mu.Lock()
					acks[u] = append(acks[u], time.Now())
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			}()
			go func() {
				defer wg.Done()
				for rctx.Err() == nil {
					start := time.Now()
					h, where, err := readHistory(rctx, gwB, u, fmt.Sprintf("bounded=%s", bound), "")
					if err != nil {
						if rctx.Err() == nil {
							t.Errorf("user %d: %v", u, err)
						}
						return
					}
					mu.Lock()
					reads = append(reads, read{user: u, start: start, applied: h.Applied - base[u], where: where})
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		time.Sleep(3 * time.Second)
		// The lag rises past the bound for 3 seconds.
		if err := w.Latency("b", "a", 400*time.Millisecond, 0, lab.KindKafka); err != nil {
			t.Fatal(err)
		}
		raised := time.Now()
		time.Sleep(3 * time.Second)
		if err := w.Latency("b", "a", 40*time.Millisecond, 10*time.Millisecond, lab.KindKafka); err != nil {
			t.Fatal(err)
		}
		lowered := time.Now()
		time.Sleep(3 * time.Second)
		stop()
		wg.Wait()

		// A read that started at T must hold every write acknowledged
		// before T - bound.
		var stale []string
		count := map[string]int{}
		duringHigh := map[string]int{}
		var worst time.Duration
		for _, r := range reads {
			count[r.where]++
			if r.start.After(raised.Add(time.Second)) && r.start.Before(lowered) {
				duringHigh[r.where]++
			}
			if r.where != "local" {
				continue
			}
			as := acks[r.user]
			// The writes acknowledged before start - bound - slack.
			due := sort.Search(len(as), func(i int) bool { return !as[i].Before(r.start.Add(-bound)) })
			if int64(due) > r.applied {
				missing := as[r.applied] // the oldest write the read lacks
				age := r.start.Sub(missing)
				worst = max(worst, age)
				stale = append(stale, fmt.Sprintf("user %d at %s: %d of %d due writes, the oldest missing acknowledged %s before", r.user, r.start.Format("15:04:05.000"), r.applied, due, age.Round(time.Millisecond)))
			}
		}
		t.Logf("%d bounded reads (bound %s): %d served by b, %d forwarded to a; while a->b lagged 400ms+: %d by b, %d forwarded",
			len(reads), bound, count["local"], count["owner"], duringHigh["local"], duringHigh["owner"])
		if len(stale) > 0 {
			t.Errorf("%d bounded reads returned data older than %s (worst %s): %v", len(stale), bound, worst, stale[:min(5, len(stale))])
		}
		if count["local"] == 0 || duringHigh["owner"] == 0 {
			t.Errorf("reads served by b %d, forwarded while the lag exceeded the bound %d: want both", count["local"], duringHigh["owner"])
		}
		if duringHigh["local"] > 0 {
			t.Errorf("%d reads were served by b while a->b lagged more than the bound", duringHigh["local"])
		}
	})
}

// move sends one transfer of user u through the gateway at base and
// returns its session token.
func move(ctx context.Context, base string, u int64, rid string) (string, error) {
	body, _ := json.Marshal(lab.LedgerRequest{RequestID: rid, Kind: "transfer", From: lab.Wallet, To: lab.Savings, AmountCents: 1})
	for try := 0; ; try++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/users/%d/moves", base, u), bytes.NewReader(body))
		req.Header.Set("X-User-Id", fmt.Sprint(u))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
			return resp.Header.Get(gateway.HeaderSession), nil
		case resp.StatusCode != http.StatusServiceUnavailable || try > 50:
			return "", fmt.Errorf("move %s: %s", rid, resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readHistory reads user u's history through the gateway at base with a
// consistency level and session token; where is the gateway's
// X-Region-Read (local or owner).
func readHistory(ctx context.Context, base string, u int64, level, token string) (lab.HistoryReply, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/users/%d/requests", base, u), nil)
	req.Header.Set("X-User-Id", fmt.Sprint(u))
	req.Header.Set(gateway.HeaderConsistency, level)
	if token != "" {
		req.Header.Set(gateway.HeaderSession, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return lab.HistoryReply{}, "", err
	}
	defer resp.Body.Close()
	var h lab.HistoryReply
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != http.StatusOK {
		return h, resp.Header.Get(gateway.HeaderRead), fmt.Errorf("read %d's history: %s %v %s", u, resp.Status, err, h.Error)
	}
	return h, resp.Header.Get(gateway.HeaderRead), nil
}
