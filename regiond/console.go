package regiond

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/console"
)

// overviewTimeout bounds how long GET /v1/overview waits for a region,
// so that one unreachable region does not hold up the console.
const overviewTimeout = 3 * time.Second

// consoleRoutes registers the console's page, login and logout, and the
// two endpoints only the console needs: GET /v1/whoami and
// GET /v1/overview.
func (d *Daemon) consoleRoutes() {
	d.api.HandlePublic("GET /console", http.RedirectHandler(console.Path, http.StatusFound))
	d.api.HandlePublic("GET "+console.Path, console.Handler())
	d.api.HandlePublic("POST /console/login", d.api.LoginHandler())
	d.api.HandlePublic("POST /console/logout", d.api.LogoutHandler())
	d.api.HandleFunc("GET /v1/whoami", apiserver.RoleViewer, handleWhoami)
	httpClient := sync.OnceValues(func() (*http.Client, error) {
		return client.NewHTTP(d.cfg.Deployment, overviewTimeout, d.dialer)
	})
	d.api.HandleFunc("GET /v1/overview", apiserver.RoleViewer, func(w http.ResponseWriter, r *http.Request) {
		hc, err := httpClient()
		if err != nil {
			apiserver.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("cannot call the other regions: %v", err),
				"check the etcd TLS CA file in the config: it is how regiond trusts the other regions' API certificates")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), overviewTimeout)
		defer cancel()
		// The caller's own token asks the other regions, so that they
		// audit who asked and apply the caller's role.
		c := &client.Client{Token: d.api.RequestToken(r), HTTP: hc}
		apiserver.WriteJSON(w, http.StatusOK, c.Overview(ctx, d.cfg.Deployment))
	})
}

// handleWhoami answers GET /v1/whoami: the caller's name and role.
func handleWhoami(w http.ResponseWriter, r *http.Request) {
	id, _ := apiserver.Caller(r.Context())
	apiserver.WriteJSON(w, http.StatusOK, apiserver.Whoami{Name: id.Name, Role: id.Role})
}
