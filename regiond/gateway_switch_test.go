package regiond_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// TestSwitchUnderLoadThroughTheGateway: users of buckets 0-63 write
// through the gateways; while their buckets are fenced a write gets 503
// with Retry-After and a reason; a switch moves them to cell b1 under a
// steady load; writes after the flip are served by region b; every
// acknowledged write, before and after the fence, is in both regions
// exactly once.
func TestSwitchUnderLoadThroughTheGateway(t *testing.T) {
	st, tok := ledgerLab(t, lab.Options{})
	ctx := context.Background()
	gwA := st.Regions[0].GatewayURL()
	gwB := st.Regions[1].GatewayURL()
	var users []int64
	for u := int64(1); len(users) < 40; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets) < 64 {
			users = append(users, u)
		}
	}
	// Through b's gateway: it sends them to region a's app, their home.
	loadOf(t, gwB, users, 1)
	single := []ledger.Write{write(t, gwB, users[0])}
	if w := single[0]; w.Outcome != ledger.Acked || w.Region != "a" {
		t.Fatalf("a write of user %d through b's gateway: %s served by %q, want acked by a", users[0], w.Outcome, w.Region)
	}

	// Fence the buckets by hand: a write is refused, a read passes.
	release := holdFence(t, st, topo.Range{First: 0, Last: 63})
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/users/%d/repayments", gwA, users[0]), strings.NewReader(`{"amount_cents": 100}`))
	req.Header.Set("X-User-Id", strconv.FormatInt(users[0], 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var refusal struct {
		Error  string `json:"error"`
		Bucket int    `json:"bucket"`
	}
	_ = json.Unmarshal(body, &refusal)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(refusal.Error, "write-forbidden") {
		t.Fatalf("a write to a fenced bucket: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if r, err := http.Get(fmt.Sprintf("%s/users/%d?user=%d", gwA, users[0], users[0])); err != nil || r.StatusCode == 503 {
		t.Fatalf("a read of a fenced bucket: %v %v", r, err)
	}
	// Straight to a's app, past the gateway: its guard refuses at commit.
	appA := st.Regions[0].AppURL()
	if code, body := repayDirect(t, appA, users[0]); code != 503 || !strings.Contains(body, "fenced by a switch") {
		t.Fatalf("a write of a fenced bucket straight to a's app: %d %s, want 503 from the guard", code, body)
	}
	release()

	// A steady load, half through each gateway; the switch mid-load.
	// It runs until a while after the switch ends, so that both owners
	// serve some of it.
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	loads := make([]ledger.Workload, 2)
	for i, gw := range []string{gwA, gwB} {
		loads[i] = loadOf(t, gw, users[i*20:i*20+20], 60)
		wg.Go(func() { loads[i].Run(lctx) })
	}
	time.Sleep(time.Second)
	var rec traffic.Record
	if code, body := call(t, st, "a", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-63", "to": "b1", "reason": "under load"}, &rec); code != 202 {
		t.Fatalf("switch: %d %s", code, body)
	}
	final := waitSwitch(t, st, "a", tok, rec.ID)
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	if final.State != traffic.Done {
		t.Fatalf("switch under load: %s %s", final.State, final.Error)
	}
	t.Logf("switch under load: write-forbidden %d ms", final.WriteForbiddenMS)
	single = append(single, write(t, gwA, users[0]))
	if w := single[1]; w.Outcome != ledger.Acked || w.Region != "b" {
		t.Fatalf("a write after the flip: %s served by %q, want acked by b", w.Outcome, w.Region)
	}
	if code, body := repayDirect(t, appA, users[0]); code != 503 || !strings.Contains(body, "belongs to cell b1") {
		t.Fatalf("a write of a switched user straight to a's app: %d %s, want 503 from the guard", code, body)
	}
	for i, load := range loads {
		hist := load.History.Writes()
		res := ledger.Summarize(hist)
		if res.Acked == 0 || res.Failed != 0 || res.ByRegion["a"] == 0 || res.ByRegion["b"] == 0 {
			t.Fatalf("load %d: %+v", i, res)
		}
		if i == 0 {
			hist = append(hist, single...) // the two single writes above, of users[0]
		}
		lost, dup, err := ledger.Verify(ctx, st, hist, load.Users, nil, time.Minute)
		if err != nil || lost.Violations != 0 || dup.Violations != 0 {
			t.Fatalf("load %d: %d acknowledged, lost %+v, duplicated %+v, %v", i, res.Acked, lost, dup, err)
		}
		t.Logf("load %d: %d acknowledged (%v), %d refused and retried, longest wait %d ms: none lost, none doubled", i, res.Acked, res.ByRegion, res.Refused, res.LongestBlockMS)
	}
}

// ledgerLab starts a lab of regions a and b with opts, creates the
// ledger schema and waits until both regions hold it; it returns the lab
// and its operator token.
func ledgerLab(t *testing.T, opts lab.Options) (*lab.State, string) {
	t.Helper()
	st := labtest.UpWith(t, opts, "a", "b")
	tok, _ := lab.ReadToken(st.Dir)
	createLedger(t, st)
	labapi.Converged(t, st, 60*time.Second)
	return st, tok
}

// createLedger creates the sample and ledger schema in region a and waits
// for every region to have it.
func createLedger(t *testing.T, st *lab.State) {
	t.Helper()
	if err := ledger.CreateSchema(context.Background(), st, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// loadOf opens the users' ledgers through gateway gw and returns a load
// of rate moves a second for them, its history fresh.
func loadOf(t *testing.T, gw string, users []int64, rate float64) ledger.Workload {
	t.Helper()
	w := ledger.Workload{Gateways: []string{gw}, Users: users, Rate: rate, Workers: 4, Duration: time.Minute,
		RunID: "t" + strconv.FormatInt(time.Now().UnixNano(), 36), Retry: 20 * time.Millisecond, Timeout: 30 * time.Second, History: &ledger.History{}}
	if err := w.Open(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	return w
}

// write sends one ledger move of user (whose ledger is open) through a
// gateway and returns what became of it (an error answer: outcome
// unknown, with the error).
func write(t *testing.T, gw string, user int64) ledger.Write {
	t.Helper()
	return ledger.Workload{Gateways: []string{gw}, RunID: "w" + strconv.FormatInt(time.Now().UnixNano(), 36), Timeout: 30 * time.Second}.Once(context.Background(), user, 0)
}

// holdFence makes buckets r write-forbidden, as a switch's fence does,
// and returns once every router serves that; release lifts it.
func holdFence(t *testing.T, st *lab.State, r topo.Range) (release func()) {
	t.Helper()
	ctx := context.Background()
	store := routingStore(t, st)
	fenced, err := store.Update(ctx, router.Change{Kind: "fence", Actor: "test", Reason: "hold"}, func(t *router.Table) error {
		return t.Fence([]topo.Range{r}, "test-hold")
	})
	if err != nil {
		t.Fatal(err)
	}
	waitEpoch(t, store, fenced.Epoch)
	return func() {
		t.Helper()
		if _, err := store.Update(ctx, router.Change{Kind: "unfence", Actor: "test", Reason: "release"}, func(t *router.Table) error {
			t.Unfence("test-hold")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitEpoch waits until every live router serves epoch.
func waitEpoch(t *testing.T, s *router.Store, epoch uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := s.Routers(context.Background())
		ok := err == nil && len(rs) > 0
		for _, r := range rs {
			ok = ok && r.Epoch >= epoch
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("routers did not reach epoch %d: %v %v", epoch, rs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// repayDirect posts a repayment of user straight to an app (no gateway)
// and returns the answer's code and body.
func repayDirect(t *testing.T, app string, user int64) (int, string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("%s/users/%d/repayments", app, user), "application/json", strings.NewReader(`{"amount_cents": 100}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
