package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/router/gateway"
)

// ReadsOptions configures Reads.
type ReadsOptions struct {
	// Dir is where the lab goes (a new or empty folder); empty: a
	// temporary folder, removed afterwards.
	Dir      string
	Bin      lab.Binaries
	Progress io.Writer
	// Reads is how many reads of each kind (default 1000).
	Reads int
	// Bound is the bounded level's bound (default 1s).
	Bound time.Duration
}

// ReadLatency is one kind of read's latency, in µs.
type ReadLatency struct {
	Kind string  `json:"kind"`
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	// AddedP50 and AddedP99 are the kind's percentiles minus the plain
	// local read's, measured in the same run.
	AddedP50 float64 `json:"added_p50_us"`
	AddedP99 float64 `json:"added_p99_us"`
	// Local is the share of reads the gateway's region served.
	Local float64 `json:"local_share"`
}

// ReadsReport is what Reads measured.
type ReadsReport struct {
	Time  time.Time     `json:"time"`
	Reads int           `json:"reads"`
	Bound string        `json:"bound"`
	Kinds []ReadLatency `json:"kinds"`
}

// WriteText prints r for people.
func (r *ReadsReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "reads of a user of region a through region b (%d of each kind, alternating; %s)\n", r.Reads, r.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "%-22s %9s %9s %11s %11s %7s\n", "kind", "p50 µs", "p99 µs", "added p50", "added p99", "local")
	for _, k := range r.Kinds {
		fmt.Fprintf(w, "%-22s %9.0f %9.0f %11.0f %11.0f %6.0f%%\n", k.Kind, k.P50, k.P99, k.AddedP50, k.AddedP99, 100*k.Local)
	}
	_, err := fmt.Fprintln(w, "A forwarded read (strong, and bounded or session the local region cannot serve) goes to the owner's application: on this machine a loopback hop; across regions, add the round trip.")
	return err
}

// Reads measures what each consistency level adds to a read: on a fresh
// two-region lab, a user of region a writes through a's gateway and its
// history is read through b's: directly from b's application (the plain
// local read, the baseline), and through b's gateway as eventual,
// bounded, session (right after a write, with its token) and strong
// (forwarded to a), one of each in turn.
func Reads(ctx context.Context, o ReadsOptions) (*ReadsReport, error) {
	if o.Reads <= 0 {
		o.Reads = 1000
	}
	if o.Bound <= 0 {
		o.Bound = time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	st, stop, err := twoRegions(ctx, o.Dir, "reads", o.Bin, o.Progress)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := ledger.CreateSchema(ctx, st, time.Minute); err != nil {
		return nil, err
	}
	var user int64
	for u := int64(7001); user == 0; u++ {
		if st.HomeRegion(u) == 0 {
			user = u
		}
	}
	gwA := st.Regions[0].GatewayURL()
	gwB := st.Regions[1].GatewayURL()
	appB := st.Regions[1].AppURL()
	if err := (ledger.Workload{Gateways: []string{gwA}, Users: []int64{user}}).Open(ctx, time.Minute); err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	// The user's ledger reaches b by replication.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := benchRead(ctx, client, appB, user, "", ""); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("user %d's ledger did not reach region b in a minute: %w", user, err)
		}
	}
	bounded := "bounded=" + o.Bound.String()
	kinds := []struct{ name, base, level string }{
		{"plain local read", appB, ""}, {"eventual", gwB, "eventual"}, {bounded, gwB, bounded},
		{"session", gwB, "session"}, {"strong (forwarded)", gwB, "strong"},
	}
	lat := make([][]float64, len(kinds))
	local := make([]int, len(kinds))
	fmt.Fprintf(o.Progress, "reading user %d's history %d times per kind\n", user, o.Reads)
	for i := range o.Reads {
		token, err := benchMove(ctx, client, gwA, user, fmt.Sprintf("rb-%d", i))
		if err != nil {
			return nil, err
		}
		for j := range kinds {
			k := kinds[(i+j)%len(kinds)]
			ix := (i + j) % len(kinds)
			tok := ""
			if k.level == "session" {
				tok = token
			}
			start := time.Now()
			where, err := benchRead(ctx, client, k.base, user, k.level, tok)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.name, err)
			}
			lat[ix] = append(lat[ix], float64(time.Since(start).Microseconds()))
			if where == "local" || k.level == "" {
				local[ix]++
			}
		}
	}
	rep := &ReadsReport{Time: time.Now().UTC(), Reads: o.Reads, Bound: o.Bound.String()}
	b50, b99 := Percentile(lat[0], 50), Percentile(lat[0], 99)
	for i, k := range kinds {
		p50, p99 := Percentile(lat[i], 50), Percentile(lat[i], 99)
		rep.Kinds = append(rep.Kinds, ReadLatency{Kind: k.name, P50: p50, P99: p99, AddedP50: p50 - b50, AddedP99: p99 - b99, Local: float64(local[i]) / float64(o.Reads)})
	}
	return rep, nil
}

// benchMove writes one transfer of user u through the gateway at base
// and returns its session token.
func benchMove(ctx context.Context, c *http.Client, base string, u int64, rid string) (string, error) {
	body, _ := json.Marshal(lab.LedgerRequest{RequestID: rid, Kind: "transfer", From: lab.Wallet, To: lab.Savings, AmountCents: 1})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/users/%d/moves", base, u), bytes.NewReader(body))
	req.Header.Set("X-User-Id", fmt.Sprint(u))
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("write %s: %s", rid, resp.Status)
	}
	tok := resp.Header.Get(gateway.HeaderSession)
	if tok == "" {
		return "", errors.New("the gateway's answer to a write carries no session token: is the app reporting X-Region-GTID?")
	}
	return tok, nil
}

// benchRead reads user u's history at base with a level and token and
// returns the gateway's X-Region-Read.
func benchRead(ctx context.Context, c *http.Client, base string, u int64, level, token string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/users/%d/requests", base, u), nil)
	req.Header.Set("X-User-Id", fmt.Sprint(u))
	if level != "" {
		req.Header.Set(gateway.HeaderConsistency, level)
	}
	if token != "" {
		req.Header.Set(gateway.HeaderSession, token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("read: %s", resp.Status)
	}
	return resp.Header.Get(gateway.HeaderRead), nil
}
