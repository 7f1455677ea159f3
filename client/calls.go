package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
)

// Status is GET /v1/status: this regiond's health, capture and inbound links.
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	var s api.Status
	if err := c.get(ctx, "/v1/status", &s); err != nil {
		return nil, fmt.Errorf("regiond %s: %w", c.BaseURL, err)
	}
	return &s, nil
}

// Staleness is GET /v1/freshness/{from}: how old region from's data in
// the regiond's region may be; ok is false when it cannot say (read from
// region from). It implements guard.Staleness.
func (c *Client) Staleness(ctx context.Context, from string) (time.Duration, bool, error) {
	var f api.Freshness
	if err := c.get(ctx, "/v1/freshness/"+url.PathEscape(from), &f); err != nil {
		return 0, false, fmt.Errorf("regiond %s: %w", c.BaseURL, err)
	}
	return time.Duration(f.StalenessSeconds * float64(time.Second)), f.Known, nil
}

// Route is GET /v1/route?user=USER: where the user's writes go now.
func (c *Client) Route(ctx context.Context, user string) (*api.RouteAnswer, error) {
	var a api.RouteAnswer
	return &a, c.get(ctx, "/v1/route?user="+url.QueryEscape(user), &a)
}

// Routes is GET /v1/routes: the routing table and the live routers.
func (c *Client) Routes(ctx context.Context) (*api.RoutesAnswer, error) {
	var a api.RoutesAnswer
	return &a, c.get(ctx, "/v1/routes", &a)
}

// RouteVersion is GET /v1/routes/epochs/EPOCH: one stored version of the
// routing table.
func (c *Client) RouteVersion(ctx context.Context, epoch uint64) (*router.Table, error) {
	var t router.Table
	return &t, c.get(ctx, fmt.Sprintf("/v1/routes/epochs/%d", epoch), &t)
}

// RouteHistory is GET /v1/routes/history?limit=N (0: every version),
// newest first.
func (c *Client) RouteHistory(ctx context.Context, limit int) (*api.HistoryAnswer, error) {
	var a api.HistoryAnswer
	return &a, c.get(ctx, fmt.Sprintf("/v1/routes/history?limit=%d", limit), &a)
}

// RollbackRoutes is POST /v1/routes/rollback: the table the rollback wrote.
func (c *Client) RollbackRoutes(ctx context.Context, req api.RollbackRequest) (*router.Table, error) {
	var t router.Table
	return &t, c.send(ctx, http.MethodPost, "/v1/routes/rollback", req, &t)
}

// PlanSwitch is POST /v1/switches with req.DryRun set: what the switch
// would move, changing nothing.
func (c *Client) PlanSwitch(ctx context.Context, req traffic.Request) (*traffic.Plan, error) {
	req.DryRun = true
	var p traffic.Plan
	return &p, c.send(ctx, http.MethodPost, "/v1/switches", req, &p)
}

// StartSwitch is POST /v1/switches: the switch's record as it started
// (follow it with Switch).
func (c *Client) StartSwitch(ctx context.Context, req traffic.Request) (*traffic.Record, error) {
	if req.DryRun {
		return nil, fmt.Errorf("dry_run: a dry run starts nothing; call PlanSwitch")
	}
	var rec traffic.Record
	return &rec, c.send(ctx, http.MethodPost, "/v1/switches", req, &rec)
}

// Switch is GET /v1/switches/ID: one switch's record.
func (c *Client) Switch(ctx context.Context, id string) (*traffic.Record, error) {
	var rec traffic.Record
	return &rec, c.get(ctx, "/v1/switches/"+url.PathEscape(id), &rec)
}

// Switches is GET /v1/switches: the running switches and the history.
func (c *Client) Switches(ctx context.Context) (*api.SwitchesAnswer, error) {
	var a api.SwitchesAnswer
	return &a, c.get(ctx, "/v1/switches", &a)
}

// AbortSwitch is POST /v1/switches/ID/abort.
func (c *Client) AbortSwitch(ctx context.Context, id string, req api.AbortRequest) (*traffic.Record, error) {
	var rec traffic.Record
	return &rec, c.send(ctx, http.MethodPost, "/v1/switches/"+url.PathEscape(id)+"/abort", req, &rec)
}

// Controller is GET /v1/controller: the controller's node, members and state.
func (c *Client) Controller(ctx context.Context) (*api.ControllerStatus, error) {
	var s api.ControllerStatus
	return &s, c.get(ctx, "/v1/controller", &s)
}

// AddVoter is POST /v1/controller/voters (on the controller's leader).
func (c *Client) AddVoter(ctx context.Context, req api.VoterRequest) error {
	return c.send(ctx, http.MethodPost, "/v1/controller/voters", req, nil)
}

// RemoveVoter is DELETE /v1/controller/voters/ID (on the controller's leader).
func (c *Client) RemoveVoter(ctx context.Context, id string) error {
	return c.send(ctx, http.MethodDelete, "/v1/controller/voters/"+url.PathEscape(id), nil, nil)
}

// Failovers is GET /v1/failovers: the controller's failover history,
// newest first.
func (c *Client) Failovers(ctx context.Context) ([]controller.FailoverRecord, error) {
	var a api.FailoversAnswer
	if err := c.get(ctx, "/v1/failovers", &a); err != nil {
		return nil, err
	}
	return a.Failovers, nil
}

// Failover is POST /v1/failovers; it answers when the failover is over.
// A failover that ended rolled back answers 409 with its report: both
// come back.
func (c *Client) Failover(ctx context.Context, req api.FailoverRequest) (*api.FailoverReport, error) {
	return c.report(ctx, "/v1/failovers", req)
}

// Failback is POST /v1/failbacks; it answers when the failback is over.
// A refusal that time lifts (the RPO still pending, the region not caught
// up) is an *Error with RetryAfter set: nothing was done.
func (c *Client) Failback(ctx context.Context, req api.FailbackRequest) (*api.FailoverReport, error) {
	return c.report(ctx, "/v1/failbacks", req)
}

// report posts a failover or failback. One that ended rolled back
// answers 409 with its report: the report comes back with an *Error.
func (c *Client) report(ctx context.Context, path string, req any) (*api.FailoverReport, error) {
	var rep api.FailoverReport
	err := c.send(ctx, http.MethodPost, path, req, &rep)
	var e *Error
	if errors.As(err, &e) && e.StatusCode == http.StatusConflict && json.Unmarshal(e.body, &rep) == nil && rep.ID != "" {
		e.Message = fmt.Sprintf("%s %s ended %s: %s", rep.Kind, rep.ID, rep.State, rep.Error)
		return &rep, e
	}
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

// Drills is GET /v1/drills: drill records newest first, and schedules.
func (c *Client) Drills(ctx context.Context) (*api.DrillsView, error) {
	var v api.DrillsView
	return &v, c.get(ctx, "/v1/drills", &v)
}

// RecordDrill is POST /v1/drills: a drill an operator ran goes into the
// controller's history.
func (c *Client) RecordDrill(ctx context.Context, req api.DrillRecordRequest) error {
	return c.send(ctx, http.MethodPost, "/v1/drills", req, nil)
}

// Rebuilds is GET /v1/rebuilds: every region rebuild, newest first.
func (c *Client) Rebuilds(ctx context.Context) (*api.RebuildsView, error) {
	var v api.RebuildsView
	return &v, c.get(ctx, "/v1/rebuilds", &v)
}

// RecordRebuild is POST /v1/rebuilds: a rebuild's start or end goes into
// the controller's history (and the audit log).
func (c *Client) RecordRebuild(ctx context.Context, req api.RebuildRequest) error {
	return c.send(ctx, http.MethodPost, "/v1/rebuilds", req, nil)
}

// ScheduleDrill is POST /v1/drills/schedules.
func (c *Client) ScheduleDrill(ctx context.Context, req api.ScheduleRequest) (map[string]string, error) {
	var out map[string]string
	return out, c.send(ctx, http.MethodPost, "/v1/drills/schedules", req, &out)
}

// UnscheduleDrill is DELETE /v1/drills/schedules/PLAN.
func (c *Client) UnscheduleDrill(ctx context.Context, plan string) (map[string]string, error) {
	var out map[string]string
	return out, c.send(ctx, http.MethodDelete, "/v1/drills/schedules/"+url.PathEscape(plan), nil, &out)
}

// Healthz is GET /healthz: nil when the regiond answers 200.
func (c *Client) Healthz(ctx context.Context) error {
	return c.get(ctx, "/healthz", nil)
}

// Link is GET /v1/links/FROM on the link's target regiond: the link
// FROM -> that region, with every message an operator skipped on it.
func (c *Client) Link(ctx context.Context, from string) (*api.LinkView, error) {
	var v api.LinkView
	return &v, c.get(ctx, "/v1/links/"+url.PathEscape(from), &v)
}

// LinkApplied is GET /v1/links/FROM/applied on the link's target regiond:
// it answers once the link FROM -> that region has applied the GTID set
// gtid (Covered), or after wait (at most api.MaxAppliedWait), or at once
// when the link is not running.
func (c *Client) LinkApplied(ctx context.Context, from, gtid string, wait time.Duration) (*api.AppliedView, error) {
	var v api.AppliedView
	q := url.Values{"gtid": {gtid}, "wait": {wait.String()}}
	return &v, c.get(ctx, "/v1/links/"+url.PathEscape(from)+"/applied?"+q.Encode(), &v)
}

// RetryLink is POST /v1/links/FROM/retry: every halted partition starts
// again from its checkpoint.
func (c *Client) RetryLink(ctx context.Context, from string, req api.RetryRequest) (*api.RetryAnswer, error) {
	var a api.RetryAnswer
	return &a, c.send(ctx, http.MethodPost, "/v1/links/"+url.PathEscape(from)+"/retry", req, &a)
}

// PauseLink is POST /v1/links/FROM/pause: the link stops applying (its
// messages wait in the source's Kafka) until ResumeLink.
func (c *Client) PauseLink(ctx context.Context, from string, req api.PauseRequest) (*apply.LinkStatus, error) {
	var l apply.LinkStatus
	return &l, c.send(ctx, http.MethodPost, "/v1/links/"+url.PathEscape(from)+"/pause", req, &l)
}

// ResumeLink is POST /v1/links/FROM/resume: a paused link applies again
// from its checkpoints.
func (c *Client) ResumeLink(ctx context.Context, from string, req api.PauseRequest) (*apply.LinkStatus, error) {
	var l apply.LinkStatus
	return &l, c.send(ctx, http.MethodPost, "/v1/links/"+url.PathEscape(from)+"/resume", req, &l)
}

// SkipLink is POST /v1/links/FROM/skip: the halted partition moves past
// its message, which goes to quarantine.
func (c *Client) SkipLink(ctx context.Context, from string, req api.SkipRequest) (*apply.Quarantined, error) {
	var q apply.Quarantined
	return &q, c.send(ctx, http.MethodPost, "/v1/links/"+url.PathEscape(from)+"/skip", req, &q)
}

// ResolveQuarantined is POST /v1/links/FROM/quarantine/ID/resolve.
func (c *Client) ResolveQuarantined(ctx context.Context, from string, id int64, req api.ResolveRequest) error {
	return c.send(ctx, http.MethodPost, fmt.Sprintf("/v1/links/%s/quarantine/%d/resolve", url.PathEscape(from), id), req, nil)
}
