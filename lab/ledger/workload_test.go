package ledger

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
)

// fakeApp answers ledger moves as the lab app's gateway would: the first
// attempt of every request id is refused with 503 (a fence), the next
// acknowledged by region "a"; opening a ledger answers 201.
type fakeApp struct {
	mu    sync.Mutex
	seen  map[string]int
	opens int
}

func (f *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/ledger") {
		f.opens++
		w.WriteHeader(http.StatusCreated)
		return
	}
	var req lab.LedgerRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Header.Get("X-User-Id") == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.seen[req.RequestID]++
	if f.seen[req.RequestID] == 1 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"write-forbidden"}`))
		return
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(lab.LedgerReply{Region: "a", RequestID: req.RequestID, GTID: "1-1-9"})
}

// TestWorkloadRetriesWithItsRequestID: a refused write is sent again with
// the same request id and recorded once, acknowledged, with its
// refusals; a gateway that refuses connections is skipped; a probe
// (Once) does not retry.
func TestWorkloadRetriesWithItsRequestID(t *testing.T) {
	app := &fakeApp{seen: map[string]int{}}
	srv := httptest.NewServer(app)
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // refuses connections
	w := Workload{Gateways: []string{dead.URL, srv.URL}, Users: []int64{1, 2, 3}, Rate: 200, Workers: 2,
		Duration: 300 * time.Millisecond, RunID: "t", Retry: time.Millisecond, History: &History{}}
	if err := w.Open(context.Background(), 5*time.Second); err != nil || app.opens != 3 {
		t.Fatalf("open: %v, %d ledgers opened", err, app.opens)
	}
	w.Run(context.Background())
	hist := w.History.Writes()
	if len(hist) < 4 {
		t.Fatalf("%d writes in 300ms at 200/s", len(hist))
	}
	ids := map[string]bool{}
	acked := 0
	for _, wr := range hist {
		switch {
		case ids[wr.ID] || wr.Refusals != 1 || wr.Started.After(wr.Sent):
			t.Errorf("write %+v", wr)
		case wr.Outcome == Acked && wr.Region == "a" && wr.GTID == "1-1-9" && app.seen[wr.ID] == 2:
			acked++
		case wr.Outcome == Refused && app.seen[wr.ID] == 1: // refused when the load ended
		default:
			t.Errorf("write %+v (sent %d times)", wr, app.seen[wr.ID])
		}
		ids[wr.ID] = true
	}
	if s := Summarize(hist); acked < 4 || s.Acked != acked || s.Refused != len(hist) || s.ByRegion["a"] != acked {
		t.Errorf("summary %+v of %d writes, %d acknowledged", s, len(hist), acked)
	}
	p := w.Once(context.Background(), 2, 0)
	if p.Outcome != Refused || p.Refusals != 1 || p.User != 2 || p.ID != "t-probe-0" || len(w.History.Writes()) != len(hist) {
		t.Errorf("probe %+v", p)
	}
}
