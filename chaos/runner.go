package chaos

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
)

// Config sets how long and how hard each scenario runs.
type Config struct {
	// Duration is each scenario's load; faults fire at a third of it and
	// heal at two thirds.
	Duration time.Duration
	// Seed picks users' writes and the faults' targets.
	Seed uint64
	// Users per scenario (fresh ids each scenario); Rate writes a second
	// over Workers clients.
	Users   int
	Rate    float64
	Workers int
	// SettleTimeout bounds the wait for replication to converge after
	// the faults healed.
	SettleTimeout time.Duration
	// Progress receives a line per step (nil: none).
	Progress io.Writer
}

// DefaultConfig is a short run: 20 s of load per scenario.
func DefaultConfig() Config {
	return Config{Duration: 20 * time.Second, Seed: 1, Users: 40, Rate: 40, Workers: 6, SettleTimeout: 2 * time.Minute}
}

// Validate checks the config, naming the field to fix.
func (c Config) Validate() error {
	var errs []error
	if c.Duration < 3*time.Second {
		errs = append(errs, fmt.Errorf("duration %s: use at least 3s (faults fire at a third of it)", c.Duration))
	}
	if c.Users < 2 {
		errs = append(errs, fmt.Errorf("users %d: use at least 2", c.Users))
	}
	if c.Rate <= 0 || c.Workers <= 0 {
		errs = append(errs, fmt.Errorf("rate %.1f, workers %d: both must be above 0", c.Rate, c.Workers))
	}
	if c.SettleTimeout <= 0 {
		errs = append(errs, errors.New("settle timeout: must be above 0"))
	}
	return errors.Join(errs...)
}

// Result is one scenario's outcome: the client history's counts, what
// the faults did and the checker's counts per invariant.
type Result struct {
	Scenario string          `json:"scenario"`
	Faults   []string        `json:"faults,omitempty"`
	Broke    string          `json:"broke,omitempty"`
	Expect   string          `json:"expect,omitempty"`
	Writes   map[Outcome]int `json:"writes"`
	// Unknown samples what the clients saw of writes of unknown outcome.
	Unknown []string `json:"unknown,omitempty"`
	Counts  []Count  `json:"counts"`
	Pass    bool     `json:"pass"`
	Error   string   `json:"error,omitempty"`
	Seconds float64  `json:"seconds"`
	History []Write  `json:"-"`
	// Notes are the notes job's committed writes (notesJob).
	Notes  []Note           `json:"-"`
	counts map[string]Count `json:"-"`
}

// Count returns the result's count of an invariant.
func (r *Result) Count(inv string) Count { return r.counts[inv] }

// Runner runs scenarios one after another against one lab.
type Runner struct {
	cfg   Config
	env   *Env
	out   io.Writer
	first int64 // the next scenario's first user id
}

// NewRunner returns a runner of cfg in env's lab.
func NewRunner(env *Env, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("chaos config: %w", err)
	}
	out := cfg.Progress
	if out == nil {
		out = io.Discard
	}
	return &Runner{cfg: cfg, env: env, out: out}, nil
}

// Prepare creates the sample and ledger schema (in the first region;
// replication carries it) and waits until every region has it.
func (r *Runner) Prepare(ctx context.Context) error {
	if err := ledger.CreateSchema(ctx, r.env.St, time.Minute); err != nil {
		return err
	}
	db, err := lab.OpenMySQL(r.env.St.Regions[0].MySQLPort, "")
	if err != nil {
		return err
	}
	defer db.Close()
	// Fresh user ids above any a former run left in this lab.
	var top int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(user_id), 0) FROM "+lab.SampleDatabase+".ledger_totals").Scan(&top); err != nil {
		return err
	}
	r.first = (top/100_000 + 1) * 100_000
	return nil
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Run runs one scenario: fresh users, the load with its faults, the
// convergence wait and the checks.
func (r *Runner) Run(ctx context.Context, s Scenario) *Result {
	start := time.Now()
	res := &Result{Scenario: s.Name, Expect: s.Expect, counts: map[string]Count{}}
	defer func() { res.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds() }()
	e := r.env
	e.reset()
	h := fnv.New64a()
	h.Write([]byte(s.Name))
	stream := h.Sum64()
	e.Rand = rand.New(rand.NewPCG(r.cfg.Seed, stream))
	// Users in pairs of the same bucket, who also pay each other: a
	// transaction of two users' rows, moved together by every switch.
	var last int64
	e.Users, last = ledger.Pairs(r.first, r.cfg.Users, e.St.Buckets)
	r.first = last + 1

	fail := func(format string, args ...any) *Result {
		res.Error = fmt.Sprintf(format, args...)
		r.logf("%s: %s", s.Name, res.Error)
		return res
	}
	w := ledger.Workload{Gateways: e.Gateways(), Users: e.Users, Buckets: e.St.Buckets, Rate: r.cfg.Rate, Workers: r.cfg.Workers,
		Duration: r.cfg.Duration, Seed: r.cfg.Seed ^ stream, RunID: fmt.Sprintf("%s-%d", s.Name, e.Users[0]), History: &ledger.History{},
		Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: r.cfg.Workers * 2}}}
	defer w.Client.CloseIdleConnections()
	r.logf("%s: opening %d users (%d..%d, in pairs of a bucket)", s.Name, len(e.Users), e.Users[0], last)
	if err := w.Open(ctx, time.Minute); err != nil {
		return fail("%v", err)
	}
	// Every region must know the users before a fault, or a survivor
	// could never serve them.
	if err := e.Converged(ctx, r.cfg.SettleTimeout); err != nil {
		return fail("before the load: %v", err)
	}
	ends, err := e.topicEnds(ctx)
	if err != nil {
		return fail("%v", err)
	}

	fs := s.Faults()
	var wg sync.WaitGroup
	loadStart := time.Now()
	// The load runs at least Duration, and at least a third of it after
	// the faults healed (a slow fault must not end with the load).
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	w.Duration = 24 * time.Hour
	wg.Go(func() { w.Run(lctx) })
	var jobWrites int
	wg.Go(func() { jobWrites = e.ratesJob(lctx, r.cfg.Seed^stream) })
	wg.Go(func() { res.Notes = e.notesJob(lctx, r.cfg.Seed^stream) })
	var faultErr []string
	sleep(ctx, r.cfg.Duration/3)
	for _, f := range fs {
		err := f.Inject(ctx, e)
		r.logf("%s: injected %s", s.Name, f)
		if err != nil {
			faultErr = append(faultErr, fmt.Sprintf("inject %s: %v", f, err))
		}
	}
	sleep(ctx, time.Until(loadStart.Add(2*r.cfg.Duration/3)))
	for _, f := range fs {
		r.logf("%s: heal %s", s.Name, f)
		if err := f.Heal(ctx, e); err != nil {
			faultErr = append(faultErr, fmt.Sprintf("heal %s: %v", f, err))
		}
		res.Faults = append(res.Faults, f.String())
	}
	sleep(ctx, max(time.Until(loadStart.Add(r.cfg.Duration)), r.cfg.Duration/3))
	stopLoad()
	wg.Wait()
	hist := w.History.Writes()
	res.History, res.Writes = hist, w.History.Counts()
	for _, w := range hist {
		if w.Outcome == Unknown && len(res.Unknown) < 3 {
			res.Unknown = append(res.Unknown, w.ID+": "+w.Err)
		}
	}
	r.logf("%s: load done: %d acked, %d unknown, %d refused, %d global rates and %d notes written by the jobs; waiting for convergence", s.Name, res.Writes[Acked], res.Writes[Unknown], res.Writes[Refused], jobWrites, len(res.Notes))
	t0 := time.Now()
	settled := e.Converged(ctx, r.cfg.SettleTimeout)
	r.logf("%s: converged in %.1fs", s.Name, time.Since(t0).Seconds())
	if settled != nil {
		faultErr = append(faultErr, fmt.Sprintf("not converged: %v", settled))
	}
	var undo func(context.Context) error
	if s.Break != nil {
		what, u, err := s.Break(ctx, e, hist)
		if err != nil {
			faultErr = append(faultErr, fmt.Sprintf("break: %v", err))
		}
		res.Broke, undo = what, u
	}
	res.Error = strings.Join(faultErr, "; ")
	if res.Error != "" {
		e.Log.Warn("chaos scenario trouble", "scenario", s.Name, "err", res.Error)
	}
	r.check(ctx, s, res, fs, ends, settled == nil)
	if undo != nil {
		if err := undo(ctx); err != nil {
			res.Pass, res.Error = false, strings.TrimPrefix(res.Error+"; undo the planted damage: "+err.Error(), "; ")
		}
	}
	verdict := "PASS"
	if !res.Pass {
		verdict = "FAIL"
	}
	r.logf("%s: %s in %.1fs", s.Name, verdict, time.Since(start).Seconds())
	return res
}

// check counts every invariant and decides the verdict.
func (r *Runner) check(ctx context.Context, s Scenario, res *Result, fs []Fault, ends offsets, settled bool) {
	e := r.env
	data, err := e.readAll(ctx)
	if err != nil {
		res.Error = strings.TrimPrefix(res.Error+"; read the regions: "+err.Error(), "; ")
		return
	}
	// Once every link has drained, tables differ only for a moment (rows
	// of the last transactions committing); else give them longer.
	wait := 3 * time.Second
	if !settled {
		wait = 15 * time.Second
	}
	res.Counts = []Count{
		ledger.CheckLost(e.expect(), res.History, data),
		ledger.CheckDuplicate(e.expect(), res.History, data),
		checkIdentical(ctx, e, wait),
		checkEcho(ctx, e, ends),
		checkFence(e, res.History, data),
		checkNotes(ctx, e, res.Notes),
	}
	for _, f := range fs {
		if v, ok := f.(Verifier); ok {
			res.Counts = append(res.Counts, v.Verify(ctx, e, res.History))
		}
	}
	res.Pass = res.Error == "" && res.Writes[Acked] > 0
	for _, c := range res.Counts {
		res.counts[c.Invariant] = c
		if c.Invariant == s.Expect {
			res.Pass = res.Pass && c.Violations > 0
		} else {
			res.Pass = res.Pass && c.Violations == 0
		}
	}
}

// RunAll runs scenarios one after another and returns their report.
func (r *Runner) RunAll(ctx context.Context, ss []Scenario) *Report {
	rep := &Report{Seed: r.cfg.Seed, Duration: r.cfg.Duration.String(), Started: time.Now().UTC()}
	for _, s := range ss {
		if ctx.Err() != nil {
			break
		}
		rep.Results = append(rep.Results, r.Run(ctx, s))
	}
	rep.Seconds = time.Since(rep.Started).Round(100 * time.Millisecond).Seconds()
	return rep
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
