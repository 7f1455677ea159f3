package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
)

// Env is the lab a scenario runs in and what its faults leave for the
// checker: the RPO forced failovers reported and the fence windows of
// switches and failovers. A scenario's faults and checks use it from one
// goroutine.
type Env struct {
	St  *lab.State
	Cfg *config.Config
	Bin lab.Binaries
	Log *slog.Logger

	api *client.Client // the lab's operator token, no BaseURL (see at, anyAPI)

	// Users are the scenario's workload users; Rand picks fault targets
	// (seeded per scenario).
	Users []int64
	Rand  *rand.Rand

	// Lost are the GTIDs forced failovers reported lost (their RPO).
	Lost []string
	// Fences are the write-forbidden windows faults opened.
	Fences []Fence
	// Excluded users are out of the checks (a poisoned partition's: they
	// are checked by the fault itself).
	Excluded map[int64]bool
	// ExcludedRates are the global rates rows out of the identical check
	// (a poisoned partition's, as Excluded users).
	ExcludedRates []string
	// Halted are links ("a->b") a fault halted on purpose: Settled
	// does not wait for them.
	Halted []string

	// stopped are the regions whose applications a fault stopped (its
	// app killed): the jobs, which run beside the scenario's goroutine,
	// write no more there until the fault heals (region name -> true).
	stopped sync.Map
}

// stopApps marks region's applications stopped (or running again): the
// jobs stop writing its MySQL, as its app does when killed.
func (e *Env) stopApps(region string, stopped bool) {
	if stopped {
		e.stopped.Store(region, true)
	} else {
		e.stopped.Delete(region)
	}
}

// appsStopped reports whether region's applications are stopped.
func (e *Env) appsStopped(region string) bool {
	_, ok := e.stopped.Load(region)
	return ok
}

// NewEnv returns the Env of the running lab st.
func NewEnv(st *lab.State, bin lab.Binaries, log *slog.Logger) (*Env, error) {
	cfg, err := config.Load(st.ConfigPath())
	if err != nil {
		return nil, fmt.Errorf("the lab's config: %w", err)
	}
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		return nil, err
	}
	hc, err := client.NewHTTP(cfg, 30*time.Second, nil)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Env{St: st, Cfg: cfg, Bin: bin, Log: log, api: &client.Client{Token: tok, HTTP: hc}, Excluded: map[int64]bool{}}, nil
}

// reset clears what one scenario left for its checks.
func (e *Env) reset() {
	e.Lost, e.Fences, e.Excluded, e.ExcludedRates = nil, nil, map[int64]bool{}, nil
	e.stopped.Clear()
}

// Gateways returns every region's gateway URL, in region order.
func (e *Env) Gateways() []string {
	out := make([]string, len(e.St.Regions))
	for i, r := range e.St.Regions {
		out[i] = r.GatewayURL()
	}
	return out
}

// at is the API of region.
func (e *Env) at(region string) *client.Client {
	r, _ := e.St.Region(region)
	return e.api.At(r.APIURL())
}

// anyAPI returns the API of the first region whose regiond answers.
func (e *Env) anyAPI(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, e.Cfg, e.api.Token, e.api.HTTP)
}

// overview fetches every region's status.
func (e *Env) overview(ctx context.Context) *api.Overview {
	return e.api.Overview(ctx, e.Cfg)
}

// quietFor is how long Converged's condition must hold once the load has
// stopped: a link's lag is counted against what its source's capture last
// checkpointed in etcd (at most every 200 ms), so right after the load a
// link can show no lag while the last transactions are on their way.
const quietFor = time.Second

// Settled waits (up to timeout) until every regiond answers, every link
// runs and has applied everything its source published (as far as the
// capture checkpoints say: under load, a moment's view). It returns what
// still stands in the way when the time is up.
func (e *Env) Settled(ctx context.Context, timeout time.Duration) error {
	return e.settled(ctx, timeout, 0)
}

// Converged is Settled holding for quietFor: with no load running,
// everything written has arrived everywhere.
func (e *Env) Converged(ctx context.Context, timeout time.Duration) error {
	return e.settled(ctx, timeout, quietFor)
}

// Drained waits (up to timeout) until every link from region has applied
// everything region's capture published.
func (e *Env) Drained(ctx context.Context, region string, timeout time.Duration) error {
	return e.wait(ctx, timeout, 0, func(l string) bool { return strings.HasPrefix(l, region+"->") })
}

func (e *Env) settled(ctx context.Context, timeout, hold time.Duration) error {
	return e.wait(ctx, timeout, hold, func(string) bool { return true })
}

// wait waits until every regiond answers and the links links selects
// ("a->b") run with nothing behind, for hold.
func (e *Env) wait(ctx context.Context, timeout, hold time.Duration, links func(string) bool) error {
	var why string
	var since time.Time // when the condition last became true
	err := lab.WaitUntil(ctx, timeout, func() bool {
		if !e.settledNow(ctx, links, &why) {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= hold
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, why)
	}
	return nil
}

// settledNow reports whether every regiond answers and every link links
// selects runs with nothing behind; why says what does not.
func (e *Env) settledNow(ctx context.Context, links func(string) bool, why *string) bool {
	o := e.overview(ctx)
	var bad []string
	for _, r := range o.Regions {
		if r.Error != "" || r.Status == nil {
			bad = append(bad, fmt.Sprintf("region %s does not answer: %s", r.Region, r.Error))
			continue
		}
		if len(r.Status.Links) != len(e.St.Regions)-1 {
			bad = append(bad, fmt.Sprintf("region %s has %d inbound links", r.Region, len(r.Status.Links)))
		}
		for _, l := range r.Status.Links {
			if slices.Contains(e.Halted, l.From+"->"+l.To) || !links(l.From+"->"+l.To) {
				continue
			}
			if l.State != "running" || l.LagTxns > 0 {
				bad = append(bad, fmt.Sprintf("link %s->%s %s, %d behind %s", l.From, l.To, l.State, l.LagTxns, l.Error))
			}
		}
	}
	*why = strings.Join(bad, "; ")
	return len(bad) == 0
}

// Fence is a window in which some users' writes must not be accepted:
// from the moment every router had applied a fence to the moment the
// buckets were flipped (or the fence lifted); and after it, the old
// region must not accept their writes at all until Until.
type Fence struct {
	What string `json:"what"`
	// Users are the fenced users (of the scenario's workload).
	Users map[int64]bool `json:"-"`
	// From and To bound the write-forbidden window.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// OldRegion served the users before; it must accept none of their
	// writes sent after From until Until (zero: the end of the scenario).
	OldRegion string    `json:"old_region"`
	Until     time.Time `json:"until,omitzero"`
}

// checked returns the scenario's users the invariants judge: all but the
// excluded ones.
func (e *Env) checked() []int64 {
	var out []int64
	for _, u := range e.Users {
		if !e.Excluded[u] {
			out = append(out, u)
		}
	}
	return out
}
