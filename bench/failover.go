package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/topo"
)

// FailoverOptions configures RunFailover.
type FailoverOptions struct {
	// Dir is where the labs go, one folder per run (kept); empty: a
	// temporary folder, removed afterwards.
	Dir      string
	Bin      lab.Binaries
	Progress io.Writer
	// Runs is how many fresh labs to measure, one after the other.
	Runs int
	// Rate is the steady write load through region b's gateway (writes a
	// second) during the region loss, the failback and the switchover.
	Rate float64
	// Users is how many users of each cell (a1, b1) write the load.
	Users int
	// Buckets is the lab's bucket count; each region owns half, which the
	// planned switchover moves.
	Buckets int
	// RunTimeout bounds one run, lab start and tear-down included.
	RunTimeout time.Duration
	// Raft is the labs' controller.raft (zero: the defaults).
	Raft config.RaftTimeouts
	// FailAfter is the labs' controller.fail_after (0: lab.DefaultFailAfter).
	FailAfter time.Duration
}

// DefaultFailoverOptions is the benchmark: 5 runs under 200
// writes a second, a region owning 1,024 of 2,048 buckets.
func DefaultFailoverOptions() FailoverOptions {
	return FailoverOptions{Runs: 5, Rate: 200, Users: 100, Buckets: 2048, RunTimeout: 6 * time.Minute}
}

// FailoverRun is what one run measured. Times are in milliseconds; a
// figure the run did not reach is -1.
type FailoverRun struct {
	Run   int    `json:"run"`
	Error string `json:"error,omitempty"`

	// Controller leader killed (its process) -> another node reports a
	// different leader.
	LeaderKilled     string `json:"leader_killed"`
	NewLeader        string `json:"new_leader"`
	LeaderFailoverMS int64  `json:"leader_failover_ms"`
	// LinksAfterRestartMS: the killed process started again -> both
	// regions' inbound links applying with nothing behind.
	LinksAfterRestartMS int64 `json:"links_after_restart_ms"`

	// Region a killed (every process) at T0 under the load.
	FailoverID string `json:"failover_id"`
	// DetectionMS: T0 -> the controller's failover record starts.
	DetectionMS int64 `json:"detection_ms"`
	// FailoverSteps are the failover's steps as the leader recorded
	// them, each with its time since the record started (what the RTO
	// is made of after the detection).
	FailoverSteps []string `json:"failover_steps,omitempty"`
	// RTOMS: T0 -> a write of a cell-a1 user through b's gateway is
	// acknowledged by region b.
	RTOMS int64 `json:"rto_ms"`
	// RPO as the controller reports it once a is back and its binlog
	// readable; RPOCompleteMS is a's restart -> the RPO not pending.
	RPOPendingWhileDown bool   `json:"rpo_pending_while_down"`
	RPOLostCount        int64  `json:"rpo_lost_count"`
	RPOLastAppliedGTID  string `json:"rpo_last_applied_gtid,omitempty"`
	RPOLostGTIDs        string `json:"rpo_lost_gtids,omitempty"`
	RPOCompleteMS       int64  `json:"rpo_complete_ms"`
	// AckedByAAfterKill counts the load's writes acknowledged by region a
	// after every process of a was gone (must be 0).
	AckedByAAfterKill int `json:"acked_by_a_after_kill"`
	// Failback to a (POST /v1/failbacks) under the load.
	// FailbackAttempts: 1 unless a had not caught up with b in time.
	FailbackAttempts int `json:"failback_attempts"`
	// FailbackAfterRestartMS: a's restart -> the failback done.
	FailbackAfterRestartMS   int64 `json:"failback_after_restart_ms"`
	FailbackMS               int64 `json:"failback_ms"`
	FailbackWriteForbiddenMS int64 `json:"failback_write_forbidden_ms"`
	// FailbackSteps are the failback's steps, as FailoverSteps.
	FailbackSteps []string `json:"failback_steps,omitempty"`
	// The load from before the kill to after the failback, checked
	// against every region once they converge.
	LossLoad       *ledger.Summary `json:"loss_load"`
	LossLost       int             `json:"loss_lost"`
	LossDuplicated int             `json:"loss_duplicated"`

	// Planned switchover of region b to a under the load.
	PlannedID               string          `json:"planned_id"`
	PlannedState            string          `json:"planned_state"`
	PlannedBuckets          int             `json:"planned_buckets"`
	PlannedWriteForbiddenMS int64           `json:"planned_write_forbidden_ms"`
	PlannedTotalMS          int64           `json:"planned_total_ms"`
	PlannedLoad             *ledger.Summary `json:"planned_load"`
	PlannedLost             int             `json:"planned_lost"`
	PlannedDuplicated       int             `json:"planned_duplicated"`

	LoadAvgBefore float64 `json:"load_avg_before"`
	LoadAvgAfter  float64 `json:"load_avg_after"`
	Seconds       float64 `json:"seconds"`
}

func newFailoverRun(i int) FailoverRun {
	return FailoverRun{Run: i, LeaderFailoverMS: -1, LinksAfterRestartMS: -1, DetectionMS: -1, RTOMS: -1, RPOLostCount: -1, RPOCompleteMS: -1,
		FailbackMS: -1, FailbackAfterRestartMS: -1, FailbackWriteForbiddenMS: -1, PlannedWriteForbiddenMS: -1, PlannedTotalMS: -1}
}

// Validate names the first option (by its flag) that makes o unusable.
func (o FailoverOptions) Validate() error {
	switch {
	case o.Runs <= 0:
		return fmt.Errorf("--runs %d: give 1 or more fresh labs", o.Runs)
	case o.Rate <= 0:
		return fmt.Errorf("--rate %g: give the writes a second through region b's gateway, more than 0", o.Rate)
	case o.Users <= 0:
		return fmt.Errorf("--users %d: give 1 or more users per cell", o.Users)
	case o.RunTimeout <= 0:
		return fmt.Errorf("--run-timeout %s: give a positive duration, e.g. 6m", o.RunTimeout)
	case o.FailAfter < 0:
		return fmt.Errorf("--fail-after %s: give a positive duration (or 0 for the lab's, %s)", o.FailAfter, lab.DefaultFailAfter)
	}
	return nil
}

// RunFailover measures o.Runs fresh labs (regions a and b, a witness,
// automatic failover on), one after the other: a controller leader loss,
// the loss of region a under a write load with its automatic failover,
// RPO and failback, and a planned switchover of region b. A run that
// fails keeps its figures so far and its error; the next run goes on.
func RunFailover(ctx context.Context, o FailoverOptions) (*FailoverReport, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-failover-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	rep := &FailoverReport{Options: o, LoadAvgBefore: loadAvg()}
	for i := 1; i <= o.Runs && ctx.Err() == nil; i++ {
		fmt.Fprintf(o.Progress, "run %d of %d\n", i, o.Runs)
		rctx, cancel := context.WithTimeout(ctx, o.RunTimeout)
		run := newFailoverRun(i)
		run.LoadAvgBefore = loadAvg()
		start := time.Now()
		err := failoverRun(rctx, o, filepath.Join(dir, fmt.Sprintf("run-%d", i)), &run)
		cancel()
		run.Seconds = time.Since(start).Seconds()
		run.LoadAvgAfter = loadAvg()
		if err != nil {
			run.Error = err.Error()
			fmt.Fprintf(o.Progress, "run %d: %v\n", i, err)
		}
		rep.Runs = append(rep.Runs, run)
	}
	rep.LoadAvgAfter = loadAvg()
	rep.summarize()
	return rep, ctx.Err()
}

// failoverRun is one run in a fresh lab under dir, torn down at the end.
func failoverRun(ctx context.Context, o FailoverOptions, dir string, run *FailoverRun) error {
	lo := lab.Options{Dir: dir, Regions: []string{"a", "b"}, Buckets: o.Buckets, Bin: o.Bin, Progress: o.Progress, AutoFailover: true, Raft: o.Raft, FailAfter: o.FailAfter}
	st, err := lab.Up(ctx, lo)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = lab.Down(dctx, dir, io.Discard)
	}()
	tok, err := lab.ReadToken(dir)
	if err != nil {
		return err
	}
	a, b := st.Regions[0], st.Regions[1]
	f := &failoverBench{o: o, st: st, lo: lo, run: run,
		api: map[string]*client.Client{
			"a": apiAt(a.APIPort, tok),
			"b": apiAt(b.APIPort, tok),
		},
		gw: b.GatewayURL(),
	}
	if err := ledger.CreateSchema(ctx, st, 60*time.Second); err != nil {
		return err
	}
	f.pickUsers()
	f.client = ledger.Workload{Gateways: []string{f.gw}, RunID: fmt.Sprintf("bench-failover-%d", run.Run), Retry: 20 * time.Millisecond, Timeout: 30 * time.Second}
	fmt.Fprintf(o.Progress, "opening the ledgers of %d users through region b's gateway\n", len(f.users)+1)
	open := f.client
	open.Users = append([]int64{f.probe}, f.users...)
	if err := open.Open(ctx, 5*time.Minute); err != nil {
		return err
	}
	if err := f.leaderLoss(ctx); err != nil {
		return fmt.Errorf("controller leader loss: %w", err)
	}
	if err := f.regionLoss(ctx); err != nil {
		return fmt.Errorf("region a lost: %w", err)
	}
	if err := f.planned(ctx); err != nil {
		return fmt.Errorf("planned switchover of region b: %w", err)
	}
	return nil
}

// failoverBench is one run's lab and what it measured so far.
type failoverBench struct {
	o   FailoverOptions
	st  *lab.State
	lo  lab.Options
	run *FailoverRun
	api map[string]*client.Client
	gw  string // region b's gateway
	// users write the load (half in cell a1, half in b1); probe is a
	// user of a1 outside it whose writes measure the RTO.
	users []int64
	probe int64
	// client writes the loads' and the probe's ledger moves through gw.
	client ledger.Workload
	// lossHist is the load's history during the region's loss: its
	// rows are in the tables when the planned switchover is checked.
	lossHist []ledger.Write
}

func (f *failoverBench) pickUsers() {
	half := topo.Bucket(f.st.Buckets / 2) // cell a1 owns the first half in the lab
	var inA, inB []int64
	for u := int64(1); len(inA) < f.o.Users+1 || len(inB) < f.o.Users; u++ {
		if topo.BucketOfString(strconv.FormatInt(u, 10), f.st.Buckets) < half {
			inA = append(inA, u)
		} else if len(inB) < f.o.Users {
			inB = append(inB, u)
		}
	}
	f.probe = inA[0]
	f.users = append(inA[1:f.o.Users+1], inB...)
}

// controller asks a region's regiond for the controller's status.
func (f *failoverBench) controller(ctx context.Context, region string) (api.ControllerStatus, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cs, err := f.api[region].Controller(cctx)
	if err != nil {
		return api.ControllerStatus{}, err
	}
	return *cs, nil
}

// waitController polls a region's view every interval until ok holds.
func (f *failoverBench) waitController(ctx context.Context, region string, interval, timeout time.Duration, what string, ok func(api.ControllerStatus) bool) (api.ControllerStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		cs, err := f.controller(ctx, region)
		if err == nil && ok(cs) {
			return cs, nil
		}
		if time.Now().After(deadline) {
			return cs, fmt.Errorf("%s: not within %s (seen from region %s; last error %v)", what, timeout, region, err)
		}
		select {
		case <-ctx.Done():
			return cs, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// stepTimes lists a failover record's steps, each with its time since the
// record started, and its end.
func stepTimes(rec controller.FailoverRecord) []string {
	var out []string
	for _, s := range rec.Steps {
		out = append(out, fmt.Sprintf("%s %s +%d ms", s.Name, s.Result, s.At.Sub(rec.StartedAt).Milliseconds()))
	}
	return append(out, fmt.Sprintf("end +%d ms", rec.EndedAt.Sub(rec.StartedAt).Milliseconds()))
}

// settled: all three voters in the gossip and a regiond leading (the
// witness hands leadership over; only a regiond acts).
func settled(cs api.ControllerStatus) bool {
	return (cs.Node.LeaderID == "a" || cs.Node.LeaderID == "b") && len(cs.Node.Voters) == 3 && len(cs.Members) == 3
}

// leaderLoss kills the controller leader's process, times until another
// node reports a different leader, and starts it again.
func (f *failoverBench) leaderLoss(ctx context.Context) error {
	cs, err := f.waitController(ctx, "a", 50*time.Millisecond, 30*time.Second, "a settled controller", settled)
	if err != nil {
		return err
	}
	leader, component, observer := cs.Node.LeaderID, "regiond", "a"
	if leader == "witness" {
		component = "witness"
	}
	if leader == "a" {
		observer = "b"
	}
	start := time.Now()
	if err := lab.Kill(ctx, f.st.Dir, leader, component); err != nil {
		return err
	}
	cs, err = f.waitController(ctx, observer, 20*time.Millisecond, 15*time.Second, "a new leader", func(cs api.ControllerStatus) bool {
		return cs.Node.LeaderID != "" && cs.Node.LeaderID != leader
	})
	if err != nil {
		return err
	}
	f.run.LeaderKilled, f.run.NewLeader, f.run.LeaderFailoverMS = leader, cs.Node.LeaderID, time.Since(start).Milliseconds()
	fmt.Fprintf(f.o.Progress, "controller leader %s killed: %s leads %d ms later (seen from %s)\n", leader, cs.Node.LeaderID, f.run.LeaderFailoverMS, observer)
	if err := lab.Start(ctx, f.lo, leader, component); err != nil {
		return err
	}
	restarted := time.Now()
	for _, r := range []string{"a", "b"} {
		if _, err := f.waitController(ctx, r, 100*time.Millisecond, 30*time.Second, "the controller settled again", settled); err != nil {
			return err
		}
	}
	// The restarted regiond's inbound link must apply again before the
	// next step: a survivor whose link never joined its source's topic
	// cannot compute the RPO of that source's loss.
	if err := f.waitLinks(ctx, 2*time.Minute); err != nil {
		return err
	}
	f.run.LinksAfterRestartMS = time.Since(restarted).Milliseconds()
	fmt.Fprintf(f.o.Progress, "%s restarted: both links applying, nothing behind, %d ms later\n", leader, f.run.LinksAfterRestartMS)
	return nil
}

// waitLinks waits until each region's inbound link runs with its
// partitions claimed and nothing behind.
func (f *failoverBench) waitLinks(ctx context.Context, timeout time.Duration) error {
	var last string
	err := lab.WaitUntil(ctx, timeout, func() bool {
		for _, r := range f.st.Regions {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			s, err := f.api[r.Name].Status(sctx)
			cancel()
			if err != nil {
				last = err.Error()
				return false
			}
			ok := false
			for _, l := range s.Links {
				ok = ok || l.State == "running" && len(l.Partitions) > 0 && l.LagTxns == 0
				last = fmt.Sprintf("link %s->%s %s, %d partitions, %d txns behind", l.From, l.To, l.State, len(l.Partitions), l.LagTxns)
			}
			if !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("links applying: %w (last: %s)", err, last)
	}
	return nil
}

// loadRun is the ledger workload running in the background until stop.
type loadRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	w      ledger.Workload
}

func (f *failoverBench) startLoad(ctx context.Context, name string) *loadRun {
	lctx, cancel := context.WithCancel(ctx)
	w := f.client
	w.Users, w.Rate, w.Workers, w.Duration = f.users, f.o.Rate, max(16, int(f.o.Rate/20)), f.o.RunTimeout
	w.RunID, w.History = f.client.RunID+"-"+name, &ledger.History{}
	l := &loadRun{cancel: cancel, done: make(chan struct{}), w: w}
	go func() {
		defer close(l.done)
		w.Run(lctx)
	}()
	return l
}

// stop ends the load, waits for its writes in flight (each bounded by
// the client's 30 s timeout) and returns its history.
func (l *loadRun) stop() []ledger.Write {
	l.cancel()
	<-l.done
	return l.w.History.Writes()
}

// regionLoss kills region a under the load, measures the controller's
// automatic failover, brings a back, waits for the RPO, fails back and
// checks the load's history against every region.
func (f *failoverBench) regionLoss(ctx context.Context) error {
	// Between the moment every process of a is gone and its restart, no
	// write can be acknowledged by a.
	var killed, restarted time.Time
	load := f.startLoad(ctx, "loss")
	defer load.stop()
	if err := sleep(ctx, 2*time.Second); err != nil { // steady state
		return err
	}
	t0 := time.Now()
	if err := lab.Kill(ctx, f.st.Dir, "a", "all"); err != nil {
		return err
	}
	killed = time.Now()
	fmt.Fprintf(f.o.Progress, "region a killed (%d ms to kill every process)\n", killed.Sub(t0).Milliseconds())

	// RTO: a write of a's user acknowledged by b, tried every 20 ms.
	deadline := t0.Add(60 * time.Second)
	for n := 0; ; n++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		w := f.client.Once(pctx, f.probe, n)
		cancel()
		if w.Outcome == ledger.Acked && w.Region == "b" {
			f.run.RTOMS = time.Since(t0).Milliseconds()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a's user cannot write through b 60 s after a was killed (last answer %s from %q: %s)", w.Outcome, w.Region, w.Err)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	var rec controller.FailoverRecord
	_, err := f.waitController(ctx, "b", 50*time.Millisecond, 30*time.Second, "the automatic failover recorded done", func(cs api.ControllerStatus) bool {
		for _, r := range cs.State.Failovers {
			if r.From == "a" && r.Kind == controller.KindForced && r.Actor == "controller" && r.State == controller.FailoverDone {
				rec = r
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	f.run.FailoverID, f.run.DetectionMS, f.run.RPOPendingWhileDown = rec.ID, rec.StartedAt.Sub(t0).Milliseconds(), rec.RPO.Pending
	f.run.FailoverSteps = stepTimes(rec)
	fmt.Fprintf(f.o.Progress, "failover %s steps: %s\n", rec.ID, strings.Join(f.run.FailoverSteps, ", "))
	fmt.Fprintf(f.o.Progress, "failover %s: started %d ms after the kill (detection), a's users write in b %d ms after it (RTO); RPO pending %v\n",
		rec.ID, f.run.DetectionMS, f.run.RTOMS, rec.RPO.Pending)
	if err := sleep(ctx, time.Second); err != nil { // the load in b for a while
		return err
	}

	back := time.Now()
	restarted = back
	if err := lab.Start(ctx, f.lo, "a", "all"); err != nil {
		return err
	}
	cs, err := f.waitController(ctx, "b", 50*time.Millisecond, 60*time.Second, "the RPO completed", func(cs api.ControllerStatus) bool {
		return !cs.State.Failovers[rec.ID].RPO.Pending
	})
	if err != nil {
		return err
	}
	rpo := cs.State.Failovers[rec.ID].RPO
	f.run.RPOCompleteMS = time.Since(back).Milliseconds()
	f.run.RPOLostCount, f.run.RPOLastAppliedGTID, f.run.RPOLostGTIDs = rpo.LostCount, rpo.LastAppliedGTID, rpo.LostGTIDs
	fmt.Fprintf(f.o.Progress, "a restarted; RPO complete %d ms later: %d transactions lost after %s\n", f.run.RPOCompleteMS, rpo.LostCount, rpo.LastAppliedGTID)

	// A failback refused for now (503: a has not caught up with b within
	// router.catch_up_timeout, or the controller is electing a leader) or
	// rolled back (409: the switch's
	// lag guard or its wait-replication found the link above
	// router.max_lag; the old owners serve again) moved no bucket: try
	// again, as an operator would, for up to two minutes.
	var fb *api.FailoverReport
	retryUntil := time.Now().Add(2 * time.Minute)
	for {
		f.run.FailbackAttempts++
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		var err error
		fb, err = f.api["b"].Failback(fctx, api.FailbackRequest{To: "a", Reason: fmt.Sprintf("bench failover run %d", f.run.Run)})
		cancel()
		if err == nil {
			f.run.FailbackAfterRestartMS = time.Since(back).Milliseconds()
			break
		}
		if msg := err.Error(); !strings.Contains(msg, "nothing changed") && !client.IsStatus(err, http.StatusConflict) && !client.IsStatus(err, http.StatusServiceUnavailable) || time.Now().After(retryUntil) {
			return fmt.Errorf("failback (attempt %d): %w", f.run.FailbackAttempts, err)
		}
		fmt.Fprintf(f.o.Progress, "failback refused or rolled back, trying again: %.300s\n", err)
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	f.run.FailbackMS, f.run.FailbackWriteForbiddenMS = fb.DurationMS, fb.WriteForbiddenMS
	fmt.Fprintf(f.o.Progress, "failback %s: %s in %d ms, write-forbidden %d ms\n", fb.ID, fb.State, fb.DurationMS, fb.WriteForbiddenMS)
	if cs, err := f.controller(ctx, "b"); err == nil {
		if rec, ok := cs.State.Failovers[fb.ID]; ok {
			f.run.FailbackSteps = stepTimes(rec)
			fmt.Fprintf(f.o.Progress, "failback %s steps: %s\n", fb.ID, strings.Join(f.run.FailbackSteps, ", "))
			for _, s := range rec.Steps {
				fmt.Fprintf(f.o.Progress, "  %s: %.200s\n", s.Name, s.Detail)
			}
		}
	}
	if fb.State != controller.FailoverDone {
		return fmt.Errorf("failback %s: %s: %s", fb.ID, fb.State, fb.Error)
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	hist := load.stop()
	f.lossHist = hist
	for _, w := range hist {
		if w.Outcome == ledger.Acked && w.Region == "a" && w.Answered.After(killed) && w.Answered.Before(restarted) {
			f.run.AckedByAAfterKill++
		}
	}
	res := ledger.Summarize(hist)
	f.run.LossLoad = res
	fmt.Fprintf(f.o.Progress, "load: %d acknowledged %v, %d refused and retried, %d failed; checking every region\n", res.Acked, res.ByRegion, res.Refused, res.Failed)
	lost, dup, err := ledger.Verify(ctx, f.st, hist, f.users, nil, 2*time.Minute)
	f.run.LossLost, f.run.LossDuplicated = lost.Violations, dup.Violations
	return err
}

// planned switches every bucket of region b to a under the load.
func (f *failoverBench) planned(ctx context.Context) error {
	load := f.startLoad(ctx, "planned")
	defer load.stop()
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req := api.FailoverRequest{From: "b", To: "a", Kind: controller.KindPlanned, Reason: fmt.Sprintf("bench failover run %d", f.run.Run)}
	rep, err := f.api["b"].Failover(pctx, req)
	if err != nil {
		return err
	}
	f.run.PlannedID, f.run.PlannedState = rep.ID, rep.State
	f.run.PlannedWriteForbiddenMS, f.run.PlannedTotalMS = rep.WriteForbiddenMS, rep.DurationMS
	for _, s := range rep.Switches {
		f.run.PlannedBuckets += s.Count
	}
	fmt.Fprintf(f.o.Progress, "planned failover %s of b: %d buckets, %s in %d ms, write-forbidden %d ms\n", rep.ID, f.run.PlannedBuckets, rep.State, rep.DurationMS, rep.WriteForbiddenMS)
	if rep.State != controller.FailoverDone {
		return fmt.Errorf("planned failover %s: %s: %s", rep.ID, rep.State, rep.Error)
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	hist := load.stop()
	f.run.PlannedLoad = ledger.Summarize(hist)
	// The regions hold both loads' rows: check them against both histories.
	// The region loss's RPO stays lost: only what is missing beyond the
	// loss load's own missing writes counts against the switchover.
	lost, dup, err := ledger.Verify(ctx, f.st, slices.Concat(f.lossHist, hist), f.users, nil, 2*time.Minute)
	f.run.PlannedLost, f.run.PlannedDuplicated = max(lost.Violations-f.run.LossLost, 0), dup.Violations
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
