package regiond

import (
	"net/http"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
)

func (d *Daemon) handleFailback(w http.ResponseWriter, r *http.Request) {
	var req api.FailbackRequest
	if !decode(w, r, &req) {
		return
	}
	if !d.onLeader(w, r, req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	rep, err := d.fo.Failback(r.Context(), req, id.Name)
	d.audit(r, "failback", req.To, err, map[string]string{"reason": req.Reason})
	answer(w, rep, err)
}
