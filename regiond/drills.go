package regiond

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover/drill"
)

// DrillRunner runs a drill plan against the deployment and writes its
// report into job.ReportDir. The controller's leader calls it for
// scheduled drills; cmd/regiond passes the runner `regionctl drill run`
// uses, so that a scheduled drill is the same drill an operator runs.
type DrillRunner interface {
	RunDrill(ctx context.Context, job drill.Job) (*drill.Report, error)
}

func (d *Daemon) drillRoutes() {
	d.api.HandleFunc("GET /v1/drills", apiserver.RoleViewer, d.handleDrills)
	d.api.HandleFunc("POST /v1/drills", apiserver.RoleOperator, d.handleRecordDrill)
	d.api.HandleFunc("POST /v1/drills/schedules", apiserver.RoleOperator, d.handleSchedule)
	d.api.HandleFunc("DELETE /v1/drills/schedules/{plan}", apiserver.RoleOperator, d.handleUnschedule)
}

func (d *Daemon) handleDrills(w http.ResponseWriter, r *http.Request) {
	if st, ok := d.leaderState(w, r); ok {
		apiserver.WriteJSON(w, http.StatusOK, drillsView(st))
	}
}

// drillsView lists st's drills newest first and its schedules by name,
// without the plans' text.
func drillsView(st *controller.State) api.DrillsView {
	v := api.DrillsView{Drills: []controller.DrillRecord{}, Schedules: []controller.DrillSchedule{}}
	for _, r := range st.Drills {
		v.Drills = append(v.Drills, r)
	}
	sort.Slice(v.Drills, func(i, j int) bool { return v.Drills[i].StartedAt.After(v.Drills[j].StartedAt) })
	for _, s := range st.Schedules {
		s.PlanYAML = ""
		v.Schedules = append(v.Schedules, s)
	}
	sort.Slice(v.Schedules, func(i, j int) bool { return v.Schedules[i].Plan < v.Schedules[j].Plan })
	return v
}

func (d *Daemon) handleRecordDrill(w http.ResponseWriter, r *http.Request) {
	var req api.DrillRecordRequest
	if !decode(w, r, &req) || !d.onLeader(w, r, req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	_, err := d.ctl.node.Execute(r.Context(), &controller.RecordDrill{Header: controller.Header{Actor: id.Name}, ID: req.ID, Plan: req.Plan,
		Scenario: req.Scenario, Outcome: req.Outcome, StartedAt: req.StartedAt, EndedAt: req.EndedAt, Report: req.Report, Summary: req.Summary})
	d.audit(r, "drill.record", req.ID, err, map[string]string{"plan": req.Plan, "outcome": req.Outcome})
	d.answerCommand(w, err, map[string]string{"recorded": req.ID})
}

func (d *Daemon) handleSchedule(w http.ResponseWriter, r *http.Request) {
	var req api.ScheduleRequest
	if !decode(w, r, &req) {
		return
	}
	plan, err := drill.ParsePlan([]byte(req.PlanYAML))
	if err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, "plan_yaml: "+err.Error(), "fix the plan (regionctl drill schedule checks it the same way)")
		return
	}
	if plan.Target.Mode == drill.ModeKill {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("plan %s: target.mode kill kills processes, which only an operator in a lab may do", plan.Name),
			"schedule a plan with target.mode: fence, or run the kill plan by hand: regionctl drill run --plan FILE --dir LAB")
		return
	}
	if !d.onLeader(w, r, req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	_, err = d.ctl.node.Execute(r.Context(), &controller.ScheduleDrill{Header: controller.Header{Actor: id.Name}, Plan: plan.Name,
		Cron: req.Cron, Disabled: req.Disabled, PlanYAML: req.PlanYAML})
	d.audit(r, "drill.schedule", plan.Name, err, map[string]string{"cron": req.Cron, "disabled": fmt.Sprint(req.Disabled)})
	d.answerCommand(w, err, map[string]string{"scheduled": plan.Name, "cron": req.Cron})
}

func (d *Daemon) handleUnschedule(w http.ResponseWriter, r *http.Request) {
	if !d.onLeader(w, r, nil) {
		return
	}
	plan := r.PathValue("plan")
	id, _ := apiserver.Caller(r.Context())
	_, err := d.ctl.node.Execute(r.Context(), &controller.UnscheduleDrill{Header: controller.Header{Actor: id.Name}, Plan: plan})
	d.audit(r, "drill.unschedule", plan, err, nil)
	d.answerCommand(w, err, map[string]string{"unscheduled": plan})
}

// answerCommand answers a controller command's outcome: 400 for a command
// the controller refused (with its reason), 503 when it could not commit.
func (d *Daemon) answerCommand(w http.ResponseWriter, err error, ok any) {
	switch {
	case err == nil:
		apiserver.WriteJSON(w, http.StatusOK, ok)
	case errors.Is(err, controller.ErrBadCommand) || errors.Is(err, controller.ErrRejected):
		apiserver.WriteError(w, http.StatusBadRequest, err.Error(), "")
	default:
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "retry: the controller could not commit the change")
	}
}

func noController(w http.ResponseWriter) {
	apiserver.WriteError(w, http.StatusNotFound, "this deployment runs no failover controller", "set regions[].controller (raft, gossip) and controller.witness in the config")
}

// scheduledDrills, on the controller's leader, runs every drill whose
// schedule is due (drill.Due), one at a time, until ctx ends. On winning
// leadership it first records every drill still running under another
// leader as failed: interrupted.
func (d *Daemon) scheduledDrills(ctx context.Context) error {
	var led time.Time // the leadership the interrupted drills were recorded for
	return d.ctl.node.WhileLeader(ctx, d.cfg.DrillCheckInterval, func(since time.Time) {
		if since != led {
			led = since
			d.interruptDrills(ctx)
		}
		st := d.ctl.node.State()
		for _, name := range drill.Due(st.Schedules, st.Drills, time.Now()) {
			d.runScheduled(ctx, st.Schedules[name])
			break // one at a time: the next tick sees the new state
		}
	})
}

// interruptDrills records every running drill as failed: this leader
// runs none (its loop starts none before this), so their runner lost
// leadership or stopped.
func (d *Daemon) interruptDrills(ctx context.Context) {
	for _, r := range d.ctl.node.State().Drills {
		if r.Outcome != controller.DrillRunning {
			continue
		}
		now := time.Now().UTC()
		_, err := d.ctl.node.Execute(ctx, &controller.RecordDrill{Header: controller.Header{Actor: "controller"}, ID: r.ID, Plan: r.Plan,
			Outcome: controller.DrillFailed, StartedAt: r.StartedAt, EndedAt: now, Report: r.Report,
			Summary: fmt.Sprintf("interrupted: node %s, which ran it, lost the controller's leadership or stopped before the drill ended; check every region's state (regionctl status)", r.Runner)})
		if err != nil {
			d.log.Warn("drill: could not record an interrupted drill", "drill", r.ID, "err", err)
			continue
		}
		d.log.Warn("drill: recorded an interrupted drill as failed", "drill", r.ID, "runner", r.Runner)
	}
}

// runScheduled starts sc's drill in the controller's log, runs it and
// records its outcome. A drill that cannot run is recorded as failed.
func (d *Daemon) runScheduled(ctx context.Context, sc controller.DrillSchedule) {
	log := d.log.With("plan", sc.Plan)
	if d.cfg.DrillRunner == nil {
		log.Warn("drill: a scheduled drill is due but this regiond has no drill runner (embedded without one); it stays due")
		return
	}
	start := time.Now().UTC()
	id := sc.Plan + "-" + strings.ToLower(start.Format("20060102T150405"))
	dir := filepath.Join(d.cfg.Deployment.Resolve(d.region.DataDir), "drills", id)
	if _, err := d.ctl.node.Execute(ctx, &controller.StartDrill{Header: controller.Header{Actor: "scheduler"}, ID: id, Plan: sc.Plan,
		StartedAt: start, Runner: d.region.Name}); err != nil {
		log.Warn("drill: could not start a scheduled drill", "err", err)
		return
	}
	log.Info("drill: scheduled drill starts", "drill", id, "cron", sc.Cron, "report", dir)
	rec := &controller.RecordDrill{Header: controller.Header{Actor: "scheduler"}, ID: id, Plan: sc.Plan, StartedAt: start, Report: dir}
	plan, err := drill.ParsePlan([]byte(sc.PlanYAML))
	var rep *drill.Report
	if err == nil {
		rep, err = d.cfg.DrillRunner.RunDrill(ctx, drill.Job{Plan: plan, ID: id, ReportDir: dir, Operator: "scheduler", Token: d.opToken})
	}
	rec.EndedAt = time.Now().UTC()
	if err != nil {
		rec.Outcome, rec.Summary = controller.DrillFailed, "the drill could not run: "+err.Error()
	} else {
		rec.Outcome, rec.Scenario, rec.Summary = string(rep.Outcome), rep.Scenario, strings.Join(rep.Reasons, "; ")
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, rerr := d.ctl.node.Execute(ectx, rec)
	if aerr := d.api.Audit(ectx, apiserver.AuditRecord{Time: rec.EndedAt, Actor: "scheduler", Action: "drill.run", Target: id,
		Result: rec.Outcome, Detail: map[string]string{"plan": sc.Plan, "report": dir}}); aerr != nil {
		log.Error("audit log write failed", "action", "drill.run", "err", aerr)
	}
	if rerr != nil {
		log.Error("drill: the outcome could not be recorded in the controller", "drill", id, "outcome", rec.Outcome, "err", rerr)
		return
	}
	log.Info("drill: scheduled drill ended", "drill", id, "outcome", rec.Outcome, "summary", rec.Summary)
}
