package regiond

import (
	"net/http"
	"sort"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/controller"
)

func (d *Daemon) rebuildRoutes() {
	d.api.HandleFunc("GET /v1/rebuilds", apiserver.RoleViewer, d.handleRebuilds)
	d.api.HandleFunc("POST /v1/rebuilds", apiserver.RoleOperator, d.handleRecordRebuild)
}

func (d *Daemon) handleRebuilds(w http.ResponseWriter, r *http.Request) {
	st, ok := d.leaderState(w, r)
	if !ok {
		return
	}
	v := api.RebuildsView{Rebuilds: []controller.RebuildRecord{}}
	for _, rb := range st.Rebuilds {
		v.Rebuilds = append(v.Rebuilds, rb)
	}
	sort.Slice(v.Rebuilds, func(i, j int) bool { return v.Rebuilds[i].StartedAt.After(v.Rebuilds[j].StartedAt) })
	apiserver.WriteJSON(w, http.StatusOK, v)
}

func (d *Daemon) handleRecordRebuild(w http.ResponseWriter, r *http.Request) {
	var req api.RebuildRequest
	if !decode(w, r, &req) || !d.onLeader(w, r, req) {
		return
	}
	id, _ := apiserver.Caller(r.Context())
	_, err := d.ctl.node.Execute(r.Context(), &controller.RecordRebuild{Header: controller.Header{Actor: id.Name}, Rebuild: req})
	d.audit(r, "region.rebuild", req.ID, err, map[string]string{"region": req.Region, "donor": req.Donor, "state": req.State})
	d.answerCommand(w, err, map[string]string{"recorded": req.ID, "state": req.State})
}
