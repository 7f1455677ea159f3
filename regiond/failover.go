package regiond

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

func (d *Daemon) failoverRoutes() {
	d.api.HandleFunc("POST /v1/failovers", apiserver.RoleOperator, d.handleFailover)
	d.api.HandleFunc("GET /v1/failovers", apiserver.RoleViewer, d.handleFailovers)
	d.api.HandleFunc("POST /v1/failbacks", apiserver.RoleOperator, d.handleFailback)
}

func (d *Daemon) handleFailovers(w http.ResponseWriter, r *http.Request) {
	if d.ctl == nil {
		noController(w)
		return
	}
	var out []controller.FailoverRecord
	for _, f := range d.ctl.node.State().Failovers {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	apiserver.WriteJSON(w, http.StatusOK, api.FailoversAnswer{Failovers: out})
}

func (d *Daemon) handleFailover(w http.ResponseWriter, r *http.Request) {
	var req api.FailoverRequest
	if !decode(w, r, &req) {
		return
	}
	if !d.onLeader(w, r, req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	rep, err := d.runFailover(r.Context(), req, id.Name)
	d.audit(r, "failover."+req.Kind, req.From, err, map[string]string{"to": req.To, "reason": req.Reason})
	answer(w, rep, err)
}

// onLeader reports whether this node leads the controller and should act.
// Otherwise it forwards the request (body) to the leader's regiond and
// answers w itself, waiting (bounded) for an election when the leader is
// the region that just failed.
func (d *Daemon) onLeader(w http.ResponseWriter, r *http.Request, body any) bool {
	if d.ctl == nil {
		noController(w)
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !d.ctl.node.IsLeader(); {
		if d.forwardToLeader(w, r, body, time.Now().After(deadline)) {
			return false
		}
		select {
		case <-r.Context().Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return true
}

// forwardToLeader sends the request, with the caller's own token, to the
// regiond whose node leads the controller: only the leader acts. It
// reports whether it answered w; without a reachable regiond leader it
// answers only when last is set.
func (d *Daemon) forwardToLeader(w http.ResponseWriter, r *http.Request, body any, last bool) bool {
	leader, _ := d.ctl.node.Leader()
	lr, ok := d.cfg.Deployment.Region(leader)
	if !ok {
		if last {
			apiserver.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("the controller has no regiond leader now (leader %q)", leader), "retry in a few seconds: an election is running or the witness is handing over")
		}
		return last
	}
	b, _ := json.Marshal(body)
	fr, err := http.NewRequestWithContext(r.Context(), r.Method, lr.URL+r.URL.Path, bytes.NewReader(b))
	if err != nil {
		apiserver.WriteError(w, http.StatusInternalServerError, err.Error(), "")
		return true
	}
	fr.Header.Set("Authorization", "Bearer "+apiserver.RequestToken(r))
	fr.Header.Set("Content-Type", "application/json")
	resp, err := newHTTPClient(5*time.Minute, d.dialer).Do(fr)
	if err != nil {
		if last {
			apiserver.WriteError(w, http.StatusBadGateway, fmt.Sprintf("forward to the controller leader %s: %v", leader, err), "")
		}
		return last
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}

// runFailover checks the request and carries it out as the leader. A nil
// report with an error means bad input: nothing was done.
func (d *Daemon) runFailover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	dep := d.cfg.Deployment
	if _, ok := dep.Region(req.From); !ok {
		return nil, fmt.Errorf("from: region %q is not in the config: use one of %v", req.From, dep.RegionNames())
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, errors.New("reason: missing: say why (it goes into the failover history)")
	}
	if req.To == "" {
		for _, c := range dep.Cells {
			if c.Region == req.From {
				req.To = c.Standby
				break
			}
		}
	}
	if _, ok := dep.Region(req.To); !ok || req.To == req.From {
		return nil, fmt.Errorf("to: %q is not another region: use one of %v but %s", req.To, dep.RegionNames(), req.From)
	}
	switch req.Kind {
	case controller.KindPlanned:
		return d.plannedFailover(ctx, req, actor)
	case controller.KindForced:
		return d.forcedFailover(ctx, req, actor)
	}
	return nil, fmt.Errorf("kind: %q: use planned or forced", req.Kind)
}

// plannedFailover switches every bucket whose cell lives in req.From to a
// cell of req.To, one traffic switch per target cell: RPO 0 by
// construction, every step a Raft log entry first.
func (d *Daemon) plannedFailover(ctx context.Context, req api.FailoverRequest, actor string) (*api.FailoverReport, error) {
	start := time.Now()
	target, moving, err := d.failoverPlan(ctx, req)
	if err != nil {
		return nil, err
	}
	fr, cancel, err := d.beginFailover(ctx, start, controller.KindPlanned, req, "", actor)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return fr.end(d.switchOut(fr, req.From, target, moving, req.Reason, actor), nil)
}

// switchOut moves the buckets moving out of region from to cell target
// with one traffic switch, as step "switch" of failover fr.
func (d *Daemon) switchOut(fr *record, from, target string, moving []topo.Bucket, reason, actor string) error {
	rec, err := d.switcher.Execute(fr.ctx, traffic.Request{Buckets: topo.FormatBuckets(moving), To: target,
		Reason: fmt.Sprintf("planned failover %s of region %s: %s", fr.rep.ID, from, reason), Actor: actor})
	detail := "switch"
	if rec != nil {
		fr.rep.Switches = append(fr.rep.Switches, *rec)
		fr.rep.WriteForbiddenMS = rec.WriteForbiddenMS
		detail = fmt.Sprintf("switch %s: %d buckets to cell %s, %s, write-forbidden %d ms", rec.ID, rec.Count, target, rec.State, rec.WriteForbiddenMS)
	}
	fr.step("switch", err, detail, nil)
	return err
}

// failoverPlan finds the cell of req.To that takes the buckets and the
// buckets whose cell lives in req.From.
func (d *Daemon) failoverPlan(ctx context.Context, req api.FailoverRequest) (string, []topo.Bucket, error) {
	target, moving, err := d.remaining(ctx, req.From, req.To)
	if err == nil && len(moving) == 0 {
		err = fmt.Errorf("from: region %s owns no buckets: nothing to fail over", req.From)
	}
	return target, moving, err
}

// remaining finds the cell of region to that takes the buckets and the
// buckets whose cell still lives in region from.
func (d *Daemon) remaining(ctx context.Context, from, to string) (string, []topo.Bucket, error) {
	t, _, err := d.store.Load(ctx)
	if err != nil {
		return "", nil, err
	}
	target := ""
	for _, c := range t.Cells {
		if c.Region == to {
			target = c.Name
			break
		}
	}
	if target == "" {
		return "", nil, fmt.Errorf("to: region %s has no cell to take the buckets", to)
	}
	if r, _ := t.Region(to); r.Fenced {
		return "", nil, fmt.Errorf("to: region %s is fenced (%s): fail back into it first", to, r.Reason)
	}
	var moving []topo.Bucket
	for b := 0; b < t.Buckets; b++ {
		if o := t.Owner(topo.Bucket(b)); o.Region == from {
			moving = append(moving, topo.Bucket(b))
		}
	}
	return target, moving, nil
}

// record is a failover in progress on the leader: every step goes into
// the controller's log as it happens. Its context outlives the request
// that started it, so a cancelled request still leaves a complete record.
type record struct {
	d     *Daemon
	rep   *api.FailoverReport
	h     controller.Header
	ctx   context.Context
	start time.Time
}

// beginFailover records the start of a failover in the controller (a
// failback names the failover it undoes). Call the returned cancel when
// the failover is over.
func (d *Daemon) beginFailover(ctx context.Context, start time.Time, kind string, req api.FailoverRequest, undoes, actor string) (*record, context.CancelFunc, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	id := "fo-" + strings.ToLower(start.UTC().Format("20060102T150405")) + "-" + hex.EncodeToString(suffix)
	r, cancel := d.newRecord(ctx, controller.FailoverRecord{ID: id, Kind: kind, From: req.From, To: req.To, StartedAt: start}, actor)
	if _, err := d.ctl.node.Execute(ctx, &controller.BeginFailover{Header: r.h, ID: id, Kind: kind, From: req.From, To: req.To,
		Reason: req.Reason, AcceptRPO: req.AcceptRPO, Undoes: undoes}); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("record the failover in the controller: %w", err)
	}
	r.pause("begin")
	return r, cancel, nil
}

// newRecord is the leader's handle on failover f, which this process runs
// from now until the returned cancel: a new leader leaves it alone.
func (d *Daemon) newRecord(ctx context.Context, f controller.FailoverRecord, actor string) (*record, context.CancelFunc) {
	d.ctl.running.add(f.ID)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	rep := &api.FailoverReport{ID: f.ID, Kind: f.Kind, From: f.From, To: f.To}
	return &record{d: d, rep: rep, h: controller.Header{Actor: actor}, ctx: rctx, start: f.StartedAt}, func() {
		cancel()
		d.ctl.running.done(f.ID)
	}
}

// step records one step; err marks it failed.
func (r *record) step(name string, err error, detail string, rpo *controller.RPO) {
	res := "ok"
	if err != nil {
		res, detail = "failed", strings.TrimSpace(detail+": "+err.Error())
	}
	if _, xerr := r.d.ctl.node.Execute(r.ctx, &controller.StepFailover{Header: r.h, ID: r.rep.ID, Step: name, Result: res, Detail: detail, RPO: rpo}); xerr != nil {
		r.d.log.Error("cannot record a failover step", "failover", r.rep.ID, "step", name, "err", xerr)
	}
	r.pause(name)
}

// pause holds the failover after step while the controller's pause file
// names it (controller.fault_injection, test labs only): a test kills the
// leader there to see a new one finish the failover.
func (r *record) pause(step string) {
	p := r.d.ctl.pausePath
	if p == "" {
		return
	}
	for {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != step {
			return
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// end records the outcome (rolled back when err is set) and returns the
// report with err.
func (r *record) end(err error, rpo *controller.RPO) (*api.FailoverReport, error) {
	e := &controller.EndFailover{Header: r.h, ID: r.rep.ID, Outcome: controller.FailoverDone, RPO: rpo}
	r.rep.State = controller.FailoverDone
	if err != nil {
		e.Outcome, e.Reason = controller.FailoverRolledBack, err.Error()
		r.rep.State, r.rep.Error = controller.FailoverRolledBack, err.Error()
	}
	if _, xerr := r.d.ctl.node.Execute(r.ctx, e); xerr != nil {
		r.d.log.Error("cannot record the end of a failover", "failover", r.rep.ID, "err", xerr)
	}
	if rpo != nil {
		r.rep.RPO = *rpo
	}
	r.rep.DurationMS = time.Since(r.start).Milliseconds()
	return r.rep, err
}

// retryLater is a refusal that time may lift (the region is still
// catching up, its RPO still pending): nothing was done, ask again.
type retryLater struct{ error }

func (r retryLater) Unwrap() error { return r.error }

// answer writes a failover's outcome: 503 with Retry-After when it is too
// early (nothing done), 400 for bad input (nothing done), 409 with the
// report when it rolled back, 200 with the report.
func answer(w http.ResponseWriter, rep *api.FailoverReport, err error) {
	switch {
	case errors.As(err, new(retryLater)) && rep == nil:
		w.Header().Set("Retry-After", "3")
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "nothing was done; ask again in a few seconds")
	case err != nil && rep == nil:
		apiserver.WriteError(w, http.StatusBadRequest, err.Error(), "")
	case err != nil:
		apiserver.WriteJSON(w, http.StatusConflict, rep)
	default:
		apiserver.WriteJSON(w, http.StatusOK, rep)
	}
}
