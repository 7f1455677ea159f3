package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// LeaderLoss kills the process that leads the failover controller's Raft
// group (a region's regiond, or the witness), waits for another leader
// and starts it again on Heal.
type LeaderLoss struct {
	killed Kill
	leader string
}

var _ Fault = (*LeaderLoss)(nil)

func (l *LeaderLoss) String() string {
	if l.leader == "" {
		return "kill the controller leader"
	}
	return fmt.Sprintf("kill the controller leader (%s), another takes over", l.leader)
}

// controller returns the controller status as any regiond sees it.
func (e *Env) controller(ctx context.Context) (api.ControllerStatus, error) {
	c, err := e.anyAPI(ctx)
	if err != nil {
		return api.ControllerStatus{}, err
	}
	cs, err := c.Controller(ctx)
	if err != nil {
		return api.ControllerStatus{}, err
	}
	return *cs, nil
}

// Inject finds the leader and kills it.
func (l *LeaderLoss) Inject(ctx context.Context, e *Env) error {
	var cs api.ControllerStatus
	if err := lab.WaitUntil(ctx, 30*time.Second, func() bool {
		var err error
		cs, err = e.controller(ctx)
		return err == nil && cs.Node.LeaderID != ""
	}); err != nil {
		return fmt.Errorf("the controller has no leader to kill: %w", err)
	}
	l.leader = cs.Node.LeaderID
	l.killed = Kill{Component: "regiond", Region: l.leader}
	if _, ok := e.St.Region(l.leader); !ok {
		l.killed = Kill{Component: "witness"}
	}
	if err := l.killed.Inject(ctx, e); err != nil {
		return err
	}
	return lab.WaitUntil(ctx, 30*time.Second, func() bool {
		cs, err := e.controller(ctx)
		return err == nil && cs.Node.LeaderID != "" && cs.Node.LeaderID != l.leader
	})
}

// Heal starts the old leader again.
func (l *LeaderLoss) Heal(ctx context.Context, e *Env) error { return l.killed.Heal(ctx, e) }

// Switch moves the buckets of some of the workload's users to another
// cell in the middle of the load (POST /v1/switches), and back on Heal.
// The fence windows go to the fence check.
type Switch struct {
	// Share is the fraction of the workload's users whose buckets move.
	Share float64

	buckets  []int
	from, to string // cells
	back     *Fence
	done     []string
}

var _ Fault = (*Switch)(nil)

func (s *Switch) String() string {
	if s.from == "" {
		return "traffic switch under load"
	}
	return fmt.Sprintf("switch %d buckets %s -> %s and back (%s)", len(s.buckets), s.from, s.to, strings.Join(s.done, ", "))
}

// route asks a regiond where a user is served now.
func (e *Env) route(ctx context.Context, user int64) (api.RouteAnswer, error) {
	c, err := e.anyAPI(ctx)
	if err != nil {
		return api.RouteAnswer{}, err
	}
	ra, err := c.Route(ctx, strconv.FormatInt(user, 10))
	if err != nil {
		return api.RouteAnswer{}, err
	}
	return *ra, nil
}

// bucketOf is a user's bucket.
func (e *Env) bucketOf(user int64) int {
	return int(topo.BucketOfString(strconv.FormatInt(user, 10), e.St.Buckets))
}

// Inject picks users, moves the buckets they share with the first one's
// cell to the next region's cell, and waits for the switch to end.
func (s *Switch) Inject(ctx context.Context, e *Env) error {
	if s.Share == 0 {
		s.Share = 0.3
	}
	first, err := e.route(ctx, e.Users[e.Rand.IntN(len(e.Users))])
	if err != nil {
		return err
	}
	s.from = first.Cell
	seen := map[int]bool{}
	for _, u := range e.Users {
		if e.Rand.Float64() >= s.Share {
			continue
		}
		ra, err := e.route(ctx, u)
		if err != nil {
			return err
		}
		if ra.Cell == s.from && !seen[int(ra.Bucket)] {
			seen[int(ra.Bucket)] = true
			s.buckets = append(s.buckets, int(ra.Bucket))
		}
	}
	if len(s.buckets) == 0 {
		s.buckets = []int{int(first.Bucket)}
	}
	sort.Ints(s.buckets)
	s.to = e.nextCell(s.from)
	return s.run(ctx, e, s.from, s.to)
}

// Heal moves the buckets back.
func (s *Switch) Heal(ctx context.Context, e *Env) error { return s.run(ctx, e, s.to, s.from) }

// nextCell is the cell of the region after cell's region.
func (e *Env) nextCell(cell string) string {
	for i, r := range e.St.Regions {
		if lab.CellName(r.Name) == cell {
			return lab.CellName(e.St.Regions[(i+1)%len(e.St.Regions)].Name)
		}
	}
	return lab.CellName(e.St.Regions[0].Name)
}

func (e *Env) cellRegion(cell string) string {
	for _, r := range e.St.Regions {
		if lab.CellName(r.Name) == cell {
			return r.Name
		}
	}
	return ""
}

// run switches the buckets from -> to and records the fence window.
func (s *Switch) run(ctx context.Context, e *Env, from, to string) error {
	list := make([]string, len(s.buckets))
	for i, b := range s.buckets {
		list[i] = strconv.Itoa(b)
	}
	c, err := e.anyAPI(ctx)
	if err != nil {
		return err
	}
	rec, err := c.StartSwitch(ctx, traffic.Request{Buckets: strings.Join(list, ","), To: to, Reason: "chaos"})
	if err != nil {
		return fmt.Errorf("switch to %s: %w", to, err)
	}
	if err := lab.WaitUntil(ctx, 90*time.Second, func() bool {
		r, err := c.Switch(ctx, rec.ID)
		if err == nil {
			rec = r
		}
		return err == nil && rec.State != traffic.Running
	}); err != nil {
		return fmt.Errorf("switch %s still %s: %w", rec.ID, rec.State, err)
	}
	s.done = append(s.done, fmt.Sprintf("%s %s", rec.ID, rec.State))
	if rec.State != traffic.Done {
		return fmt.Errorf("switch %s ended %s: %s", rec.ID, rec.State, rec.Error)
	}
	f := Fence{What: "switch " + rec.ID, Users: e.usersIn(s.buckets), OldRegion: e.cellRegion(from)}
	for _, st := range rec.Steps {
		switch st.Name {
		case "wait-routers":
			f.From = st.End
		case "flip":
			f.To = st.End
		}
	}
	if f.From.IsZero() || f.To.IsZero() {
		return fmt.Errorf("switch %s has no wait-routers or flip step: %+v", rec.ID, rec.Steps)
	}
	if s.back != nil {
		s.back.Until = f.From
	}
	e.Fences = append(e.Fences, f)
	s.back = &e.Fences[len(e.Fences)-1]
	return nil
}

// usersIn returns the workload's users in buckets.
func (e *Env) usersIn(buckets []int) map[int64]bool {
	in := map[int]bool{}
	for _, b := range buckets {
		in[b] = true
	}
	out := map[int64]bool{}
	for _, u := range e.Users {
		if in[e.bucketOf(u)] {
			out[u] = true
		}
	}
	return out
}

// usersOfRegion returns the workload's users served by region now.
func (e *Env) usersOfRegion(ctx context.Context, region string) (map[int64]bool, error) {
	out := map[int64]bool{}
	for _, u := range e.Users {
		ra, err := e.route(ctx, u)
		if err != nil {
			return nil, err
		}
		if ra.Region == region {
			out[u] = true
		}
	}
	return out, nil
}

// Failover fails a region over in the middle of the load: Forced kills
// every process of the region, waits for the controller to declare it
// failed and forces its cells to their standby (the RPO reported is the
// only loss the checker allows); planned moves them with a switch. Heal
// starts the region again and fails back.
type Failover struct {
	Forced bool
	// Drain (forced only): the region's application dies first and the
	// region is killed once the survivor has applied all it committed,
	// so the failover has nothing to lose (RPO 0).
	Drain bool
	// LeaderCrash (forced only): the controller's leader crashes once it
	// has fenced and held the region, before it moved the buckets, and
	// restarts; it finishes the failover (take-over) when it leads again.
	LeaderCrash bool
	Region      string // empty: picked by the seed

	picked  string
	crashed string // the leader that crashed (LeaderCrash)
	rep     api.FailoverReport
	fence   *Fence
	back    string
	// final is the RPO the controller completed after the failover
	// answered pending (once the region's binlog could be read).
	final *controller.RPO
}

var _ Fault = (*Failover)(nil)

func (f *Failover) String() string {
	kind := "planned"
	if f.Forced {
		kind = "forced"
	}
	if f.picked == "" {
		return kind + " failover under load"
	}
	rpo := fmt.Sprintf("RPO %d", f.rep.RPO.LostCount)
	if f.rep.RPO.Pending {
		rpo = "RPO pending"
	}
	if f.final != nil {
		rpo += fmt.Sprintf(", completed later: %d lost %s", f.final.LostCount, f.final.LostGTIDs)
	}
	if f.crashed != "" {
		kind += fmt.Sprintf(" (leader %s crashed after the hold, finished it after its restart)", f.crashed)
	}
	return fmt.Sprintf("%s failover %s of region %s to %s (%s), %s", kind, f.rep.ID, f.picked, f.rep.To, rpo, f.back)
}

// Inject fails the region over.
func (f *Failover) Inject(ctx context.Context, e *Env) error {
	f.picked = f.Region
	if f.picked == "" {
		f.picked = e.St.Regions[e.Rand.IntN(len(e.St.Regions))].Name
	}
	users, err := e.usersOfRegion(ctx, f.picked)
	if err != nil {
		return err
	}
	kind := controller.KindPlanned
	if f.Forced {
		kind = controller.KindForced
		if f.Drain {
			e.stopApps(f.picked, true) // the jobs too
			if err := lab.Kill(ctx, e.St.Dir, f.picked, "app"); err != nil {
				return err
			}
			if err := e.Drained(ctx, f.picked, time.Minute); err != nil {
				return fmt.Errorf("drain region %s before killing it: %w", f.picked, err)
			}
		}
		if err := lab.Kill(ctx, e.St.Dir, f.picked, "all"); err != nil {
			return err
		}
		// The controller may be slow to declare it failed; force anyway
		// after the wait, as the drill does.
		_ = lab.WaitUntil(ctx, 10*time.Second, func() bool {
			cs, err := e.controller(ctx)
			if err != nil {
				return false
			}
			for _, r := range cs.Regions {
				if r.Region == f.picked && r.Failed {
					return true
				}
			}
			return false
		})
	}
	c, err := e.anyAPI(ctx)
	if err != nil {
		return err
	}
	sent := time.Now()
	req := api.FailoverRequest{From: f.picked, Kind: kind, Reason: "chaos"}
	if f.LeaderCrash {
		err = f.crashLeader(ctx, e, req)
	} else {
		var rep *api.FailoverReport
		rep, err = c.Failover(ctx, req)
		if rep != nil {
			f.rep, err = *rep, nil // a rolled-back failover: its report says so below
		}
	}
	if err != nil {
		return fmt.Errorf("%s failover of region %s: %w", kind, f.picked, err)
	}
	if f.rep.State != controller.FailoverDone {
		return fmt.Errorf("%s failover %s ended %s: %s", kind, f.rep.ID, f.rep.State, f.rep.Error)
	}
	if f.rep.RPO.LostGTIDs != "" {
		e.Lost = append(e.Lost, f.rep.RPO.LostGTIDs)
	}
	fence := Fence{What: "failover " + f.rep.ID, Users: users, OldRegion: f.picked, From: sent, To: sent}
	for _, sw := range f.rep.Switches {
		for _, st := range sw.Steps {
			switch st.Name {
			case "wait-routers":
				if fence.From == sent || st.End.Before(fence.From) {
					fence.From = st.End
				}
			case "flip":
				fence.To = st.End
			}
		}
	}
	if fence.To.Before(fence.From) {
		fence.To = fence.From
	}
	e.Fences = append(e.Fences, fence)
	f.fence = &e.Fences[len(e.Fences)-1]
	return nil
}

// crashLeader asks the controller's leader for the failover req while it
// pauses after the hold (the lab's failover-pause file), kills its
// regiond there, starts it again and waits until the failover has ended;
// f.rep is then the failover as the controller recorded it.
func (f *Failover) crashLeader(ctx context.Context, e *Env, req api.FailoverRequest) error {
	var leader string
	if err := lab.WaitUntil(ctx, 30*time.Second, func() bool {
		cs, err := e.controller(ctx)
		_, ok := e.St.Region(cs.Node.LeaderID)
		leader = cs.Node.LeaderID
		return err == nil && ok && leader != req.From
	}); err != nil {
		return fmt.Errorf("no regiond but %s leads the controller: %w", req.From, err)
	}
	pause := filepath.Join(e.St.Dir, leader, "regiond", failover.PauseFile)
	if err := os.WriteFile(pause, []byte("hold"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pause)
	go func() { _, _ = e.at(leader).Failover(ctx, req) }() // its regiond dies before it answers
	records := func(c *client.Client) []controller.FailoverRecord {
		fos, _ := c.Failovers(ctx)
		return fos
	}
	var id string
	if err := lab.WaitUntil(ctx, 30*time.Second, func() bool {
		for _, r := range records(e.at(leader)) {
			if r.Active() && r.From == req.From && slices.ContainsFunc(r.Steps, func(s controller.FailoverStep) bool { return s.Name == "hold" }) {
				id = r.ID
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("the leader %s never held region %s: %w", leader, req.From, err)
	}
	if err := lab.Kill(ctx, e.St.Dir, leader, "regiond"); err != nil {
		return err
	}
	os.Remove(pause)
	f.crashed = leader
	if err := e.start(ctx, leader, "regiond"); err != nil {
		return err
	}
	return lab.WaitUntil(ctx, 90*time.Second, func() bool {
		c, err := e.anyAPI(ctx)
		if err != nil {
			return false
		}
		for _, r := range records(c) {
			if r.ID == id && !r.Active() {
				f.rep = api.FailoverReport{ID: r.ID, Kind: r.Kind, From: r.From, To: r.To, State: r.State, RPO: r.RPO}
				if len(r.Steps) > 0 && r.State != controller.FailoverDone {
					f.rep.Error = r.Steps[len(r.Steps)-1].Detail
				}
				return true
			}
		}
		return false
	})
}

// Heal starts a killed region again, waits until it has caught up, and
// fails back.
func (f *Failover) Heal(ctx context.Context, e *Env) error {
	if f.Forced {
		if err := e.start(ctx, f.picked, "all"); err != nil {
			return err
		}
		e.stopApps(f.picked, false)
	}
	c, err := e.anyAPI(ctx)
	if err != nil {
		return err
	}
	var rep *api.FailoverReport
	started := time.Now()
	var last error
	// The returning region may still be catching up: the failback is
	// refused until it has; retry, bounded.
	for deadline := time.Now().Add(90 * time.Second); ; {
		rep, last = c.Failback(ctx, api.FailbackRequest{To: f.picked, Reason: "chaos"})
		if last == nil && rep.State == controller.FailoverDone {
			break
		}
		if last == nil {
			last = fmt.Errorf("failback %s ended %s: %s", rep.ID, rep.State, rep.Error)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("fail back to region %s: %w", f.picked, last)
		}
		time.Sleep(time.Second)
	}
	f.back = fmt.Sprintf("failback %s in %s", rep.ID, time.Since(started).Round(100*time.Millisecond))
	if f.rep.RPO.Pending {
		f.completedRPO(ctx, e)
	}
	if f.fence != nil {
		f.fence.Until = started
		for _, sw := range rep.Switches {
			for _, st := range sw.Steps {
				if st.Name == "wait-routers" && !st.End.IsZero() {
					f.fence.Until = st.End
				}
			}
		}
	}
	return nil
}

// completedRPO waits (bounded) for the controller to complete a pending
// RPO and adds its lost GTIDs to what the checker allows.
func (f *Failover) completedRPO(ctx context.Context, e *Env) {
	_ = lab.WaitUntil(ctx, 30*time.Second, func() bool {
		c, err := e.anyAPI(ctx)
		if err != nil {
			return false
		}
		fos, err := c.Failovers(ctx)
		if err != nil {
			return false
		}
		for _, r := range fos {
			if r.ID == f.rep.ID && !r.RPO.Pending {
				rpo := r.RPO
				f.final = &rpo
				if rpo.LostGTIDs != "" {
					e.Lost = append(e.Lost, rpo.LostGTIDs)
				}
				return true
			}
		}
		return false
	})
}
