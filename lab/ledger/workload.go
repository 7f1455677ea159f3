package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/topo"
)

// Workload is the ledger workload: users spread over all buckets, each
// with three accounts (lab.LedgerSchema), move money between their own
// accounts (transfers wallet <-> savings, repayments wallet -> loan) and,
// with Buckets set, pay users of their bucket (wallet -> wallet), each
// move one multi-row transaction that keeps the users' totals. Every
// write goes through a gateway (the router) to the user's home cell;
// workers spread over the gateways. A write refused with 503 (its bucket
// fenced) is retried with the same request id; every write's outcome is
// recorded in History.
type Workload struct {
	// Gateways are the base URLs of the gateways (any regions').
	Gateways []string
	Users    []int64
	// Rate is writes a second over all workers; Workers write at once
	// (default 8).
	Rate    float64
	Workers int
	// Duration bounds the load; it also ends with ctx.
	Duration time.Duration
	// Seed makes the users' order, kinds and amounts repeatable.
	Seed uint64
	// RunID prefixes the request ids: runs (and segments of one load)
	// must never share one. A request id ("RunID-worker-n", or
	// "RunID-probe-n" for Once) must fit requests.request_id: 64
	// characters, so keep RunID within about 45.
	RunID string
	// Retry is the pause after a 503 before the same request is sent
	// again (default 50ms).
	Retry time.Duration
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	History *History
	// Client sends the requests (nil: http.DefaultClient).
	Client *http.Client
	// Buckets, if set, is the lab's bucket count: users of the same
	// bucket (Pairs makes such users) then also pay each other, a
	// transaction of two users' rows (kind pay).
	Buckets int
	// Payees, if set, are whom each user pays instead (any bucket): the
	// gateway routes a payment by the payer, and the app declares the
	// payee to its guard, which refuses the payment (503) while the
	// payee's bucket is fenced or homed in another region.
	Payees map[int64][]int64

	partners map[int64][]int64
}

// Pairs returns n users (n even) from first on, in pairs of the same
// bucket of buckets, so that a Workload with Buckets set has them pay
// each other: a user and the next unused id that hashes to its bucket.
// Ids are unique; the largest is returned too.
func Pairs(first int64, n, buckets int) (users []int64, last int64) {
	used := map[int64]bool{}
	next := first
	for len(users) < n {
		for used[next] {
			next++
		}
		u := next
		used[u] = true
		users = append(users, u)
		if len(users) == n {
			break
		}
		b := topo.BucketOfString(strconv.FormatInt(u, 10), buckets)
		v := u + 1
		for used[v] || topo.BucketOfString(strconv.FormatInt(v, 10), buckets) != b {
			v++
		}
		used[v] = true
		users = append(users, v)
	}
	for _, u := range users {
		last = max(last, u)
	}
	return users, last
}

// Open opens every user's ledger accounts through the gateways (bounded by
// timeout); a user who has them already is fine.
func (w Workload) Open(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for k := range errs {
		wg.Go(func() {
			for i := k; i < len(w.Users); i += len(errs) {
				if errs[k] = w.open(ctx, i); errs[k] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// open opens the ledger of the i-th user, retrying until ctx ends.
func (w Workload) open(ctx context.Context, i int) error {
	u := w.Users[i]
	for {
		code, body, err := w.send(ctx, i, u, "ledger", nil)
		if err == nil && (code == http.StatusCreated || code == http.StatusOK) {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("open the ledger of user %d: %d %s %v: %w", u, code, body, err, ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// send posts one request for user through the gateway of slot (the next
// gateways when one refuses connections: the request never left).
func (w Workload) send(ctx context.Context, slot int, user int64, what string, body any) (int, string, error) {
	b, _ := json.Marshal(body)
	var last error
	for k := range w.Gateways {
		gw := w.Gateways[(slot+k)%len(w.Gateways)]
		url := fmt.Sprintf("%s/users/%d/%s", strings.TrimSuffix(gw, "/"), user, what)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User-Id", strconv.FormatInt(user, 10))
		c := w.Client
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				last = err
				continue
			}
			return 0, "", err
		}
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp.StatusCode, string(rb), nil
	}
	return 0, "", fmt.Errorf("no gateway accepts connections: %w", last)
}

func (w *Workload) defaults() {
	if w.Workers <= 0 {
		w.Workers = 8
	}
	if w.Retry <= 0 {
		w.Retry = 50 * time.Millisecond
	}
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Second
	}
	if w.Payees != nil && w.partners == nil {
		w.partners = w.Payees
	}
	if w.Buckets > 0 && w.partners == nil {
		byBucket := map[topo.Bucket][]int64{}
		for _, u := range w.Users {
			b := topo.BucketOfString(strconv.FormatInt(u, 10), w.Buckets)
			byBucket[b] = append(byBucket[b], u)
		}
		w.partners = map[int64][]int64{}
		for _, us := range byBucket {
			for _, u := range us {
				for _, v := range us {
					if v != u {
						w.partners[u] = append(w.partners[u], v)
					}
				}
			}
		}
	}
}

// Run writes until Duration passes or ctx ends; a write once sent runs to
// its answer (bounded by Timeout) so that its outcome is known.
func (w Workload) Run(ctx context.Context) {
	w.defaults()
	ctx, cancel := context.WithTimeout(ctx, w.Duration)
	defer cancel()
	interval := time.Duration(float64(time.Second) * float64(w.Workers) / w.Rate)
	var wg sync.WaitGroup
	for k := 0; k < w.Workers; k++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(w.Seed, uint64(k)))
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for n := 0; ctx.Err() == nil; n++ {
				w.History.add(w.one(ctx, k, n, rng, true))
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
}

// Once sends one move of user (a probe: a write outside the load, of a
// user whose ledger is open) and returns what became of it, without
// retrying a 503 (outcome Refused) and without recording it in History.
// n numbers the probe's request id, unique within RunID.
func (w Workload) Once(ctx context.Context, user int64, n int) Write {
	w.Users, w.partners, w.Payees = []int64{user}, nil, nil // a probe moves within the user's own accounts
	w.defaults()
	return w.one(ctx, -1, n, rand.New(rand.NewPCG(w.Seed, uint64(n))), false)
}

// one sends one move until it is answered other than 503 (when retry) or
// the load ends.
func (w Workload) one(ctx context.Context, worker, n int, rng *rand.Rand, retry bool) Write {
	u := w.Users[rng.IntN(len(w.Users))]
	wr := Write{ID: fmt.Sprintf("%s-%d-%d", w.RunID, worker, n), User: u, Amount: 1 + rng.Int64N(500)}
	if worker < 0 {
		wr.ID = fmt.Sprintf("%s-probe-%d", w.RunID, n)
	}
	switch k := rng.IntN(4); {
	case k == 3 && len(w.partners[u]) > 0:
		ps := w.partners[u]
		wr.Kind, wr.From, wr.To, wr.ToUser = "pay", lab.Wallet, lab.Wallet, ps[rng.IntN(len(ps))]
	case k == 0:
		wr.Kind, wr.From, wr.To = "transfer", lab.Wallet, lab.Savings
	case k == 1:
		wr.Kind, wr.From, wr.To = "transfer", lab.Savings, lab.Wallet
	default:
		wr.Kind, wr.From, wr.To = "repay", lab.Wallet, lab.Loan
	}
	body := lab.LedgerRequest{RequestID: wr.ID, Kind: wr.Kind, From: wr.From, To: wr.To, ToUser: wr.ToUser, AmountCents: wr.Amount}
	wr.Started = time.Now()
	for {
		wr.Sent = time.Now()
		// A load's write once sent runs to its answer even when the load
		// ends, so that its outcome is known; a probe ends with ctx.
		base := ctx
		if retry {
			base = context.WithoutCancel(ctx)
		}
		rctx, cancel := context.WithTimeout(base, w.Timeout)
		code, rb, err := w.send(rctx, max(worker, 0), u, "moves", body)
		cancel()
		wr.Answered = time.Now()
		switch {
		case err != nil:
			wr.Outcome, wr.Err = Unknown, err.Error()
			return wr
		case code == http.StatusCreated || code == http.StatusOK:
			var rep lab.LedgerReply
			if err := json.Unmarshal([]byte(rb), &rep); err != nil {
				wr.Outcome, wr.Err = Unknown, fmt.Sprintf("%d with an unreadable body %q", code, rb)
				return wr
			}
			wr.Outcome, wr.Region, wr.GTID = Acked, rep.Region, rep.GTID
			return wr
		case code == http.StatusServiceUnavailable:
			wr.Refusals++
			if !retry || ctx.Err() != nil {
				wr.Outcome, wr.Err = Refused, strings.TrimSpace(rb)
				return wr
			}
			select {
			case <-ctx.Done():
			case <-time.After(w.Retry):
			}
		default:
			wr.Outcome, wr.Err = Unknown, fmt.Sprintf("%d %s", code, strings.TrimSpace(rb))
			return wr
		}
	}
}
