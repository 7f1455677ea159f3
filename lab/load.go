package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load writes repayments for a set of users through a gateway, at a
// steady rate, the way an application's clients would: a write refused
// with 503 (its bucket is fenced by a traffic switch) is retried after
// Retry-After, as clients are told to. It keeps the client-side history
// a checker needs: every acknowledged write per user.
type Load struct {
	// Gateway is the base URL of a gateway (any region's).
	Gateway string
	Users   []int64
	// Rate is writes a second over all workers; Workers write at once.
	Rate    float64
	Workers int
	// Duration bounds the load; it also ends with ctx.
	Duration time.Duration
	// Retry is the pause before retrying a refused write (default: the
	// answer's Retry-After, at most 1s; short values measure fences finely).
	Retry time.Duration
	// OnAck, when set, is called for every acknowledged write with the
	// region that served it and when the answer arrived (a benchmark's
	// timeline). It is called from the workers, one call at a time.
	OnAck func(user int64, region string, at time.Time)
}

// LoadResult is what the clients saw.
type LoadResult struct {
	// Acked counts writes the app acknowledged; Refused the 503 answers
	// (each retried); Failed other errors (not retried).
	Acked   int `json:"acked"`
	Refused int `json:"refused"`
	Failed  int `json:"failed"`
	// PerUser counts acknowledged repayments by user.
	PerUser map[int64]int `json:"-"`
	// ByRegion counts acknowledged writes by the region that served them.
	ByRegion map[string]int `json:"by_region"`
	// LongestBlockMS is the longest time one write waited, refused,
	// before it was acknowledged: what a user saw of a fence.
	LongestBlockMS int64    `json:"longest_block_ms"`
	Errors         []string `json:"errors,omitempty"`

	users []int64 // who wrote: Verify looks at their rows only
}

// OpenLoans creates the users through the gateway, each in its home cell.
func OpenLoans(ctx context.Context, gateway string, users []int64) error {
	for _, u := range users {
		code, body, _, err := post(ctx, gateway, u, "loans", `{"principal_cents": 100000}`)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return fmt.Errorf("open loan of user %d: %d %s", u, code, body)
		}
	}
	return nil
}

// Repay sends one repayment of user through gateway, as the lab's app
// takes it, and returns the status and the region whose app served it
// (the X-App-Region header).
func Repay(ctx context.Context, gateway string, user int64) (int, string, error) {
	code, _, region, err := post(ctx, gateway, user, "repayments", `{"amount_cents": 100}`)
	return code, region, err
}

// post sends one write through the gateway and returns the status, the
// body, the region that served it.
func post(ctx context.Context, gateway string, user int64, what, body string) (int, string, string, error) {
	url := fmt.Sprintf("%s/users/%d/%s", strings.TrimSuffix(gateway, "/"), user, what)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-Id", strconv.FormatInt(user, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), resp.Header.Get("X-App-Region"), nil
}

// Run writes until Duration passes or ctx ends.
func (l Load) Run(ctx context.Context) *LoadResult {
	if l.Workers <= 0 {
		l.Workers = 8
	}
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	res := &LoadResult{PerUser: map[int64]int{}, ByRegion: map[string]int{}, users: l.Users}
	var mu sync.Mutex
	interval := time.Duration(float64(time.Second) * float64(l.Workers) / l.Rate)
	var wg sync.WaitGroup
	for w := 0; w < l.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := w; ctx.Err() == nil; i += l.Workers {
				u := l.Users[i%len(l.Users)]
				start := time.Now()
				for ctx.Err() == nil {
					// A write once sent runs to its answer even when the
					// load ends, so that its outcome is known.
					wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					code, body, region, err := post(wctx, l.Gateway, u, "repayments", `{"amount_cents": 100}`)
					cancel()
					mu.Lock()
					switch {
					case err != nil:
						res.Failed++
						res.Errors = appendCapped(res.Errors, err.Error())
					case code == http.StatusCreated:
						res.Acked++
						res.PerUser[u]++
						res.ByRegion[region]++
						res.LongestBlockMS = max(res.LongestBlockMS, time.Since(start).Milliseconds())
						if l.OnAck != nil {
							l.OnAck(u, region, time.Now())
						}
					case code == http.StatusServiceUnavailable:
						res.Refused++
					default:
						res.Failed++
						res.Errors = appendCapped(res.Errors, fmt.Sprintf("user %d: %d %s", u, code, strings.TrimSpace(body)))
					}
					mu.Unlock()
					if code != http.StatusServiceUnavailable {
						break
					}
					pause := l.Retry
					if pause == 0 {
						pause = time.Second
						var rb struct {
							RetryAfter int `json:"retry_after_seconds"`
						}
						if json.Unmarshal([]byte(body), &rb) == nil && rb.RetryAfter > 0 {
							pause = min(pause, time.Duration(rb.RetryAfter)*time.Second)
						}
					}
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
	return res
}

func appendCapped(s []string, e string) []string {
	if len(s) < 10 {
		return append(s, e)
	}
	return s
}

// Verify waits (up to timeout) until every region holds the same number
// of the load's users' repayments, at least as many as were acknowledged
// less explained (writes a forced failover reported lost: its RPO), then
// compares each user's rows in each region with the clients'
// history (other users' rows are not the load's business). Lost counts
// the acknowledged repayments missing from a region (the most of any
// region); duplicated the rows beyond what was acknowledged, less the
// writes whose outcome the client never learnt (Failed: they may have
// landed), in the region with the most.
func (r *LoadResult) Verify(ctx context.Context, st *State, timeout time.Duration, explained int) (lost, duplicated int, err error) {
	want := 0
	for _, c := range r.PerUser {
		want += c
	}
	var per []map[int64]int
	err = WaitUntil(ctx, timeout, func() bool {
		per = per[:0]
		total := -1
		for _, reg := range st.Regions {
			m, err := repayments(ctx, reg.MySQLPort)
			if err != nil {
				return false
			}
			n := 0
			for _, u := range r.users {
				n += m[u]
			}
			if total >= 0 && n != total {
				return false
			}
			total = n
			per = append(per, m)
		}
		return total >= want-explained
	})
	if err != nil {
		return 0, 0, fmt.Errorf("the regions did not converge to the %d acknowledged repayments (%d of them explained as lost): %w", want, explained, err)
	}
	for _, m := range per {
		missing, extra := 0, 0
		for _, u := range r.users {
			switch c := r.PerUser[u]; {
			case m[u] < c:
				missing += c - m[u]
			case m[u] > c:
				extra += m[u] - c
			}
		}
		lost, duplicated = max(lost, missing), max(duplicated, extra-r.Failed)
	}
	return lost, duplicated, nil
}

// repayments counts the repayment rows of each user in a region.
func repayments(ctx context.Context, port int) (map[int64]int, error) {
	db, err := OpenMySQL(port, SampleDatabase)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT user_id, COUNT(*) FROM ledger_entries WHERE kind = 'repay' GROUP BY user_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[int64]int{}
	for rows.Next() {
		var u int64
		var c int
		if err := rows.Scan(&u, &c); err != nil {
			return nil, err
		}
		m[u] = c
	}
	return m, rows.Err()
}

// WaitUntil polls ok every 200ms until it holds, timeout passes or ctx ends.
func WaitUntil(ctx context.Context, timeout time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
