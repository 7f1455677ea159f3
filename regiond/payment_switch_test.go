package regiond_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// TestPaymentsToUsersWhoseBucketsSwitch: a payment is one transaction
// that writes the payer's and the payee's rows; the gateway routes it by
// the payer, and only the app's guard knows the payee. Payers of buckets
// that stay in region a pay payees of buckets 0-63 through the gateways
// while those buckets switch to cell b1 and the payees keep writing their
// own moves (in a, then in b). The switch must not let a payment commit
// in a once b serves its payee: every acknowledged payment and move is in
// both regions exactly once, every ledger adds up, no region logs an
// ownership violation, and after the switch a payment to a moved payee
// is refused by a's guard, naming the cell.
func TestPaymentsToUsersWhoseBucketsSwitch(t *testing.T) {
	st, tok := ledgerLab(t, lab.Options{})
	ctx := context.Background()
	gwA := st.Regions[0].GatewayURL()
	gwB := st.Regions[1].GatewayURL()
	var payers, payees []int64
	for u := int64(1); len(payers) < 10 || len(payees) < 10; u++ {
		switch b := topo.BucketOfString(strconv.FormatInt(u, 10), st.Buckets); {
		case st.HomeRegion(u) != 0:
		case b < 64 && len(payees) < 10:
			payees = append(payees, u)
		case b >= 64 && len(payers) < 10:
			payers = append(payers, u)
		}
	}
	pays := map[int64][]int64{}
	for i, u := range payers {
		pays[u] = []int64{payees[i], payees[(i+1)%len(payees)]}
	}
	payLoad := loadOf(t, gwA, payers, 80)
	payLoad.Gateways, payLoad.Payees = []string{gwA, gwB}, pays
	ownLoad := loadOf(t, gwB, payees, 40)
	ownLoad.Gateways = []string{gwA, gwB}

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for _, l := range []ledger.Workload{payLoad, ownLoad} {
		wg.Go(func() { l.Run(lctx) })
	}
	time.Sleep(1500 * time.Millisecond)
	var rec traffic.Record
	if code, body := call(t, st, "a", tok, "POST", "/v1/switches", map[string]any{"buckets": "0-63", "to": "b1", "reason": "payees move"}, &rec); code != 202 {
		t.Fatalf("switch: %d %s", code, body)
	}
	final := waitSwitch(t, st, "a", tok, rec.ID)
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	if final.State != traffic.Done {
		t.Fatalf("switch: %s %s", final.State, final.Error)
	}

	payHist, ownHist := payLoad.History.Writes(), ownLoad.History.Writes()
	paid := 0
	for _, w := range payHist {
		if w.Kind == "pay" && w.Outcome == ledger.Acked {
			paid++
		}
	}
	own := ledger.Summarize(ownHist)
	if paid == 0 || own.ByRegion["a"] == 0 || own.ByRegion["b"] == 0 || own.Failed != 0 {
		t.Fatalf("%d payments acknowledged, the payees' own moves %+v: want payments, and moves served by a, then b", paid, own)
	}
	appA := st.Regions[0].AppURL()
	if code, body := payDirect(t, appA, payers[0], payees[0]); code != 503 || !strings.Contains(body, "belongs to cell b1") {
		t.Fatalf("a payment to a switched payee straight to a's app: %d %s, want 503 from the guard", code, body)
	}
	hist := append(payHist, ownHist...)
	lost, dup, err := ledger.Verify(ctx, st, hist, append(append([]int64(nil), payers...), payees...), nil, time.Minute)
	if err != nil || lost.Violations != 0 || dup.Violations != 0 {
		t.Fatalf("lost %+v, duplicated %+v, %v", lost, dup, err)
	}
	for _, r := range []string{"a", "b"} {
		var n int
		if err := openDB(t, st, r, "lending").QueryRow("SELECT COUNT(*) FROM _region.violations").Scan(&n); err != nil || n != 0 {
			t.Errorf("region %s logged %d ownership violations (%v), want none", r, n, err)
		}
	}
	t.Logf("switch of the payees' buckets: write-forbidden %d ms; %d payments acknowledged (%d refusals, retried), the payees' moves %v: none lost, none doubled", final.WriteForbiddenMS, paid, ledger.Summarize(payHist).Refused, own.ByRegion)
}

// payDirect posts a payment of 1 cent from payer to payee straight to an
// app (no gateway) and returns the answer's code and body.
func payDirect(t *testing.T, app string, payer, payee int64) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"request_id": "direct-%d", "kind": "pay", "from": %d, "to": %d, "to_user": %d, "amount_cents": 1}`, time.Now().UnixNano(), lab.Wallet, lab.Wallet, payee)
	resp, err := http.Post(fmt.Sprintf("%s/users/%d/moves", app, payer), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
