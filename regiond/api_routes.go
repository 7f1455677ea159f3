package regiond

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/router"
	"github.com/regionplatform/region/router/traffic"
	"github.com/regionplatform/region/topo"
)

// routeRoutes registers the routing table and traffic switch endpoints.
func (d *Daemon) routeRoutes() {
	d.api.HandleFunc("GET /v1/route", apiserver.RoleViewer, d.handleRoute)
	d.api.HandleFunc("GET /v1/routes", apiserver.RoleViewer, d.handleRoutes)
	d.api.HandleFunc("GET /v1/routes/history", apiserver.RoleViewer, d.handleRouteHistory)
	d.api.HandleFunc("GET /v1/routes/epochs/{epoch}", apiserver.RoleViewer, d.handleRouteEpoch)
	d.api.HandleFunc("POST /v1/routes/rollback", apiserver.RoleOperator, d.handleRollback)
	d.api.HandleFunc("POST /v1/switches", apiserver.RoleOperator, d.handleSwitchStart)
	d.api.HandleFunc("GET /v1/switches", apiserver.RoleViewer, d.handleSwitches)
	d.api.HandleFunc("GET /v1/switches/{id}", apiserver.RoleViewer, d.handleSwitch)
	d.api.HandleFunc("POST /v1/switches/{id}/abort", apiserver.RoleOperator, d.handleSwitchAbort)
	d.api.HandleFunc("GET /v1/freshness/{from}", apiserver.RoleViewer, d.handleFreshness)
}

// handleFreshness answers how old region from's data in this region may
// be, for a guard deciding a bounded read (guard.Staleness).
func (d *Daemon) handleFreshness(w http.ResponseWriter, r *http.Request) {
	from := r.PathValue("from")
	if _, ok := d.cfg.Deployment.Region(from); !ok || from == d.region.Name {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("from: %q is not another region of the deployment", from), fmt.Sprintf("use one of %v other than %s", d.cfg.Deployment.RegionNames(), d.region.Name))
		return
	}
	a := api.Freshness{From: from, To: d.region.Name}
	var age time.Duration
	if age, a.Known = d.replica.Staleness(from); a.Known {
		a.StalenessSeconds = age.Seconds()
	}
	apiserver.WriteJSON(w, http.StatusOK, a)
}

func (d *Daemon) handleRoute(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "user: missing", "ask for a user's route with ?user=ID (the user's shard key, e.g. 1042)")
		return
	}
	rt, ok := d.router.Route(user)
	if !ok {
		apiserver.WriteError(w, http.StatusServiceUnavailable, "this regiond has not loaded the routing table yet", "check etcd in regionctl status")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, api.RouteAnswer{User: user, Bucket: rt.Bucket, Cell: rt.Cell, Region: rt.Region, WriteForbidden: rt.WriteForbidden, Epoch: rt.Epoch})
}

func (d *Daemon) handleRoutes(w http.ResponseWriter, r *http.Request) {
	t, _, err := d.store.Load(r.Context())
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	rs, err := d.store.Routers(r.Context())
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, api.RoutesAnswer{Table: t, Routers: rs})
}

func (d *Daemon) handleRouteHistory(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a count", s), "use ?limit=N, 0 for all")
			return
		}
		limit = n
	}
	ts, err := d.store.History(r.Context(), limit)
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	out := api.HistoryAnswer{Versions: []api.TableVersion{}}
	for _, t := range ts {
		v := api.TableVersion{Epoch: t.Epoch, Change: t.Change, Cells: map[string]int{}}
		for _, s := range t.Spans {
			v.Cells[s.Cell] += topo.Range{First: s.First, Last: s.Last}.Len()
			if s.State == router.WriteForbidden {
				v.Fenced += topo.Range{First: s.First, Last: s.Last}.Len()
			}
		}
		out.Versions = append(out.Versions, v)
	}
	apiserver.WriteJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleRouteEpoch(w http.ResponseWriter, r *http.Request) {
	e, err := strconv.ParseUint(r.PathValue("epoch"), 10, 64)
	if err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("epoch: %q is not an epoch number", r.PathValue("epoch")), "see regionctl route history")
		return
	}
	t, err := d.store.Version(r.Context(), e)
	if err != nil {
		apiserver.WriteError(w, http.StatusNotFound, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, t)
}

func (d *Daemon) handleRollback(w http.ResponseWriter, r *http.Request) {
	var req api.RollbackRequest
	if !decode(w, r, &req) {
		return
	}
	if req.ToEpoch == 0 {
		apiserver.WriteError(w, http.StatusBadRequest, "to_epoch: missing", "name the epoch to restore (regionctl route history lists them)")
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "reason: missing", "say why the routing table is rolled back")
		return
	}
	id, _ := apiserver.Caller(r.Context())
	t, err := d.store.Rollback(r.Context(), req.ToEpoch, router.Change{Actor: id.Name, Reason: req.Reason})
	d.audit(r, "route.rollback", fmt.Sprintf("epoch %d", req.ToEpoch), err, map[string]string{"reason": req.Reason})
	if err != nil {
		apiserver.WriteError(w, http.StatusConflict, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, t)
}

func (d *Daemon) handleSwitchStart(w http.ResponseWriter, r *http.Request) {
	var req traffic.Request
	if !decode(w, r, &req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	req.Actor = id.Name
	if req.DryRun {
		p, err := d.switcher.DryRun(r.Context(), req)
		if err != nil {
			apiserver.WriteError(w, switchErrorCode(err), err.Error(), "")
			return
		}
		apiserver.WriteJSON(w, http.StatusOK, p)
		return
	}
	rec, err := d.switcher.Start(r.Context(), req)
	target := req.Buckets + " -> " + req.To
	if rec != nil {
		target = rec.ID + ": " + target
	}
	d.audit(r, "switch.start", target, err, map[string]string{"reason": req.Reason})
	if err != nil {
		apiserver.WriteError(w, switchErrorCode(err), err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusAccepted, rec)
}

// switchErrorCode: bad input is 400, a table or guard that stands in the
// way 409, anything else 503.
func switchErrorCode(err error) int {
	msg := err.Error()
	for _, p := range []string{"reason:", "buckets:", "to:", "stages:", "dry_run:"} {
		if strings.HasPrefix(msg, p) {
			return http.StatusBadRequest
		}
	}
	if strings.HasPrefix(msg, "guard:") {
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

func (d *Daemon) handleSwitches(w http.ResponseWriter, r *http.Request) {
	a, h, err := d.switcher.List(r.Context())
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	if a == nil {
		a = []traffic.Record{}
	}
	if h == nil {
		h = []traffic.Record{}
	}
	apiserver.WriteJSON(w, http.StatusOK, api.SwitchesAnswer{Active: a, History: h})
}

func (d *Daemon) handleSwitch(w http.ResponseWriter, r *http.Request) {
	rec, err := d.switcher.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, traffic.ErrNotFound) {
			code = http.StatusNotFound
		}
		apiserver.WriteError(w, code, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, rec)
}

func (d *Daemon) handleSwitchAbort(w http.ResponseWriter, r *http.Request) {
	var req api.AbortRequest
	if !decode(w, r, &req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	rec, err := d.switcher.Abort(r.Context(), r.PathValue("id"), id.Name, req.Reason)
	d.audit(r, "switch.abort", r.PathValue("id"), err, map[string]string{"reason": req.Reason})
	if err != nil {
		code := http.StatusConflict
		switch {
		case errors.Is(err, traffic.ErrNotFound):
			code = http.StatusNotFound
		case strings.HasPrefix(err.Error(), "reason:"):
			code = http.StatusBadRequest
		}
		apiserver.WriteError(w, code, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, rec)
}

// decode reads a JSON body strictly into v, answering 400 on a problem.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, "request body: "+err.Error(), "send a JSON object with the documented fields (see regionctl --help)")
		return false
	}
	return true
}

// audit records an operator's action with its outcome.
func (d *Daemon) audit(r *http.Request, action, target string, err error, detail map[string]string) {
	id, _ := apiserver.Caller(r.Context())
	res := "ok"
	if err != nil {
		res = "error: " + err.Error()
	}
	if aerr := d.api.Audit(r.Context(), apiserver.AuditRecord{Time: time.Now().UTC(), Actor: id.Name, Role: id.Role, Action: action,
		Target: target, Result: res, Remote: r.RemoteAddr, Detail: detail}); aerr != nil {
		d.log.Error("audit log write failed", "action", action, "err", aerr)
	}
}
