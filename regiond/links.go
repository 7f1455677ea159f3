package regiond

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/cdc/binlog"
)

// linkRoutes lets an operator get a halted inbound link going: show it
// with its quarantine, retry it after a fix, or skip the message it
// halted on (kept in _region.quarantine) and resolve that later; and
// pause a link (maintenance of the target) and resume it.
func (d *Daemon) linkRoutes() {
	d.api.HandleFunc("GET /v1/links/{from}", apiserver.RoleViewer, d.handleLink)
	d.api.HandleFunc("GET /v1/links/{from}/applied", apiserver.RoleViewer, d.handleLinkApplied)
	d.api.HandleFunc("POST /v1/links/{from}/retry", apiserver.RoleOperator, d.handleLinkRetry)
	d.api.HandleFunc("POST /v1/links/{from}/skip", apiserver.RoleOperator, d.handleLinkSkip)
	d.api.HandleFunc("POST /v1/links/{from}/pause", apiserver.RoleOperator, d.linkPause(true))
	d.api.HandleFunc("POST /v1/links/{from}/resume", apiserver.RoleOperator, d.linkPause(false))
	d.api.HandleFunc("POST /v1/links/{from}/quarantine/{id}/resolve", apiserver.RoleOperator, d.handleResolve)
}

// inbound finds the applier of the link from -> this region, or answers 404.
func (d *Daemon) inbound(w http.ResponseWriter, r *http.Request) (*apply.Applier, bool) {
	from := r.PathValue("from")
	if a := d.repl.inbound(from); a != nil {
		return a, true
	}
	apiserver.WriteError(w, http.StatusNotFound, fmt.Sprintf("no link %s->%s here", from, d.region.Name),
		"ask the regiond of the link's target region, naming the source: GET /v1/links/SOURCE (regionctl link show SOURCE->TARGET does)")
	return nil, false
}

func (d *Daemon) handleLink(w http.ResponseWriter, r *http.Request) {
	a, ok := d.inbound(w, r)
	if !ok {
		return
	}
	q, err := a.QuarantineList(r.Context(), true)
	if err != nil {
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, api.LinkView{Link: a.Status(r.Context()), Quarantine: q})
}

// handleLinkApplied answers once the link has applied ?gtid= (a GTID set
// of the source's MySQL), or after ?wait= (default 0: at once), or at once
// when the link is not running: a traffic switch's wait for replication,
// without polling.
func (d *Daemon) handleLinkApplied(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	gtid := q.Get("gtid")
	if gtid == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "gtid: missing", "name the source's GTID set to wait for: ?gtid=0-1-100&wait=1s")
		return
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		var err error
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 || wait > api.MaxAppliedWait {
			apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("wait: %q is not a duration from 0 to %s", s, api.MaxAppliedWait), "use e.g. ?wait=500ms")
			return
		}
	}
	a, ok := d.inbound(w, r)
	if !ok {
		return
	}
	if err := binlog.CheckSet(d.flavorOf(a.Source()), gtid); err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("gtid: %v", err), "give a GTID set as the source's MySQL writes it (@@gtid_binlog_pos)")
		return
	}
	st, covered := d.waitApplied(r.Context(), a, gtid, wait)
	apiserver.WriteJSON(w, http.StatusOK, api.AppliedView{Link: st, Covered: covered})
}

// waitApplied waits, at most wait, until a, a link into this region, has
// applied gtid, a GTID set of its source's MySQL (apply.WaitApplied).
func (d *Daemon) waitApplied(ctx context.Context, a *apply.Applier, gtid string, wait time.Duration) (apply.LinkStatus, bool) {
	flavor := d.flavorOf(a.Source())
	return a.WaitApplied(ctx, func(applied string) bool {
		ok, err := binlog.Covers(flavor, applied, gtid)
		return err == nil && ok
	}, wait)
}

// flavorOf is region's MySQL flavor ("mariadb" if the config does not
// know the region).
func (d *Daemon) flavorOf(region string) string {
	if r, ok := d.cfg.Deployment.Region(region); ok {
		return r.MySQL.Flavor
	}
	return "mariadb"
}

func (d *Daemon) handleLinkRetry(w http.ResponseWriter, r *http.Request) {
	var req api.RetryRequest
	if !decode(w, r, &req) {
		return
	}
	a, ok := d.inbound(w, r)
	if !ok {
		return
	}
	parts := a.Retry()
	if parts == nil {
		parts = []int32{}
	}
	d.audit(r, "link.retry", a.Source()+"->"+d.region.Name, nil, map[string]string{"reason": req.Reason, "partitions": fmt.Sprint(parts)})
	apiserver.WriteJSON(w, http.StatusOK, api.RetryAnswer{Partitions: parts})
}

// linkPause answers POST /v1/links/{from}/pause (pause) and .../resume:
// both need a reason (audited) and answer the link's status.
func (d *Daemon) linkPause(pause bool) http.HandlerFunc {
	action, conflict, hint := "link.resume", apply.ErrNotPaused, ""
	if pause {
		action, conflict, hint = "link.pause", apply.ErrPaused, "regionctl link show says who paused it and why; regionctl link resume ends the pause"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.PauseRequest
		if !decode(w, r, &req) {
			return
		}
		if strings.TrimSpace(req.Reason) == "" {
			apiserver.WriteError(w, http.StatusBadRequest, "reason: missing", "say why: it goes into the audit log (and, for a pause, status shows it until someone resumes the link)")
			return
		}
		a, ok := d.inbound(w, r)
		if !ok {
			return
		}
		var err error
		if pause {
			id, _ := apiserver.Caller(r.Context())
			_, err = a.Pause(r.Context(), id.Name, req.Reason)
		} else {
			err = a.Resume(r.Context())
		}
		d.audit(r, action, a.Source()+"->"+d.region.Name, err, map[string]string{"reason": req.Reason})
		switch {
		case errors.Is(err, conflict):
			apiserver.WriteError(w, http.StatusConflict, err.Error(), hint)
		case err != nil:
			apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "try again")
		default:
			apiserver.WriteJSON(w, http.StatusOK, a.Status(r.Context()))
		}
	}
}

func (d *Daemon) handleLinkSkip(w http.ResponseWriter, r *http.Request) {
	var req api.SkipRequest
	if !decode(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Reason) == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "reason: missing", "say why the message is skipped: it is kept with the quarantined message")
		return
	}
	a, ok := d.inbound(w, r)
	if !ok {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	q, err := a.Skip(r.Context(), req.Partition, id.Name, req.Reason)
	d.audit(r, "link.skip", fmt.Sprintf("%s->%s partition %d", a.Source(), d.region.Name, req.Partition), err, map[string]string{"reason": req.Reason})
	switch {
	case errors.Is(err, apply.ErrNotHalted):
		apiserver.WriteError(w, http.StatusConflict, err.Error(), "regionctl link show lists the halted partitions")
	case err != nil:
		apiserver.WriteError(w, http.StatusServiceUnavailable, err.Error(), "nothing was skipped; try again")
	default:
		apiserver.WriteJSON(w, http.StatusOK, q)
	}
}

func (d *Daemon) handleResolve(w http.ResponseWriter, r *http.Request) {
	var req api.ResolveRequest
	if !decode(w, r, &req) {
		return
	}
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		apiserver.WriteError(w, http.StatusBadRequest, fmt.Sprintf("id: %q is not a quarantine id", r.PathValue("id")), "regionctl link show lists them")
		return
	}
	if strings.TrimSpace(req.Resolution) == "" {
		apiserver.WriteError(w, http.StatusBadRequest, "resolution: missing", "say what was done about the skipped transaction (repaired with verify --repair, or why it stays out)")
		return
	}
	a, ok := d.inbound(w, r)
	if !ok {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	err = a.Resolve(r.Context(), n, id.Name, req.Resolution)
	d.audit(r, "link.resolve", fmt.Sprintf("%s->%s quarantine %d", a.Source(), d.region.Name, n), err, map[string]string{"resolution": req.Resolution})
	if err != nil {
		apiserver.WriteError(w, http.StatusNotFound, err.Error(), "")
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, map[string]any{"resolved": n})
}
