package regiond

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/controller"
	"github.com/regionplatform/region/failover"
)

func (d *Daemon) failoverRoutes() {
	d.api.HandleFunc("POST /v1/failovers", apiserver.RoleOperator, d.handleFailover)
	d.api.HandleFunc("GET /v1/failovers", apiserver.RoleViewer, d.handleFailovers)
	d.api.HandleFunc("POST /v1/failbacks", apiserver.RoleOperator, d.handleFailback)
}

func (d *Daemon) handleFailovers(w http.ResponseWriter, r *http.Request) {
	st, ok := d.leaderState(w, r)
	if !ok {
		return
	}
	var out []controller.FailoverRecord
	for _, f := range st.Failovers {
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
	rep, err := d.fo.Failover(r.Context(), req, id.Name)
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

// leaderState answers a read of the controller's history from the
// leader, after a barrier, so that it holds every committed entry: a
// follower that just restarted has an empty state until the leader
// catches it up, and a history read there would show nothing. It
// forwards the request when this node does not lead, and reports
// whether the caller should answer with the state.
func (d *Daemon) leaderState(w http.ResponseWriter, r *http.Request) (*controller.State, bool) {
	if !d.onLeader(w, r, nil) {
		return nil, false
	}
	if err := d.ctl.node.Barrier(r.Context()); err != nil {
		w.Header().Set("Retry-After", "3")
		apiserver.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("the controller's history is not readable now: %v", err), "retry in a few seconds: the leader is changing")
		return nil, false
	}
	return d.ctl.node.State(), true
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
	if why := tokenExposed(d.region.URL, lr.URL); why != "" {
		apiserver.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("region %s's regiond leads the controller, and this regiond does not forward your token to it: %s", leader, why),
			fmt.Sprintf("call the leader directly (%s), or serve the API over TLS (regions[].api_tls and an https url)", lr.URL))
		return true
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	fr, err := http.NewRequestWithContext(r.Context(), r.Method, lr.URL+r.URL.RequestURI(), rd)
	if err != nil {
		apiserver.WriteError(w, http.StatusInternalServerError, err.Error(), "")
		return true
	}
	fr.Header.Set("Authorization", "Bearer "+d.api.RequestToken(r))
	fr.Header.Set("Content-Type", "application/json")
	resp, err := d.leaderHTTP.Do(fr)
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

// answer writes a failover's outcome: 503 with Retry-After when it is too
// early (nothing done), 400 for bad input (nothing done), 409 with the
// report when it rolled back, 200 with the report.
func answer(w http.ResponseWriter, rep *api.FailoverReport, err error) {
	switch {
	case errors.As(err, new(failover.RetryLaterError)) && rep == nil:
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

// tokenExposed says why forwarding a caller's token from the regiond at
// self to the one at to would expose it on the network ("" when it
// would not): only over https, or to the same host.
func tokenExposed(self, to string) string {
	u, err := url.Parse(to)
	if err != nil {
		return fmt.Sprintf("its url %q does not parse", to)
	}
	if u.Scheme == "https" {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return ""
	}
	if s, err := url.Parse(self); err == nil && s.Hostname() == host {
		return ""
	}
	return fmt.Sprintf("its url %s is plain http on another host", to)
}
