package gateway

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
)

// HeaderHome names, on a 409, the region where a global table is written.
const HeaderHome = "X-Region-Home"

// globalTable returns the global table the config declares request r
// writes (config router.global_writes), or "".
func (g *Gateway) globalTable(r *http.Request) string {
	for _, w := range g.cfg.GlobalWrites {
		if !slices.Contains(w.Methods, r.Method) {
			continue
		}
		if matchPath(w.Path, r.URL.Path) {
			return w.Table
		}
	}
	return ""
}

// serveGlobal handles a declared write of global table: it is proxied to
// the table's home region's application, and with a user key only when
// the user's rows live there too (else 409 naming the home: the write
// cannot happen in one region); 503 while a move fences the table. It
// reports false when the router does not know the table (the config's
// global_writes name a table this routing table lacks: the request goes
// on as any other, and the guard or the applier catch it).
func (g *Gateway) serveGlobal(w http.ResponseWriter, r *http.Request, table, key string, start time.Time) bool {
	gr, ok := g.cfg.Router.Global(table)
	if !ok {
		return false
	}
	g.m.globalWrites.Inc()
	if gr.WriteForbidden {
		g.m.refused.Inc()
		g.writeJSON(w, http.StatusServiceUnavailable, true, Problem{
			Error:  fmt.Sprintf("global table %s is write-forbidden: its home is moving from region %s, or that region is fenced; retry after %ds", table, gr.Home, g.retrySecs),
			Region: gr.Home})
		return true
	}
	if key != "" {
		if rt := g.cfg.Router.Lookup(key); rt != nil && rt.Region != gr.Home {
			g.m.globalRefused.Inc()
			w.Header().Set(HeaderHome, gr.Home)
			g.writeJSON(w, http.StatusConflict, false, Problem{
				Error: fmt.Sprintf("%s %s writes global table %s, whose home is region %s, but user %s lives in region %s (cell %s): one transaction cannot write both; write the table through region %s without the user's rows, or move its home (regionctl global move %s --to %s)",
					r.Method, r.URL.Path, table, gr.Home, key, rt.Region, rt.Cell, gr.Home, table, rt.Region),
				Region: gr.Home})
			return true
		}
		// The user's rows live in the home: served as any write of the user.
		return false
	}
	p := g.proxies[gr.Endpoint]
	if p == nil {
		g.writeJSON(w, http.StatusBadGateway, false, Problem{
			Error:  fmt.Sprintf("region %s, the home of global table %s, has no application URL known to the gateway: set regions[].app for it in the deployment config", gr.Home, table),
			Region: gr.Home})
		return true
	}
	delete(r.Header, HeaderBucket)
	delete(r.Header, HeaderCell)
	r.Header[HeaderEpoch] = []string{fmt.Sprint(gr.Epoch)}
	p.ServeHTTP(w, r)
	g.m.duration.Observe(time.Since(start).Seconds())
	return true
}

// matchPath reports whether path p matches a route pattern of the config
// (router.global_writes, router.read_levels): a pattern ending in '/'
// covers everything under it, any other is a path.Match pattern ('*'
// matches one path segment).
func matchPath(pattern, p string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(p, pattern)
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// validGlobalWrites checks the declared routes.
func validGlobalWrites(ws []config.GlobalWrite) error {
	for i, w := range ws {
		if !strings.HasPrefix(w.Path, "/") || w.Table == "" || len(w.Methods) == 0 {
			return fmt.Errorf("gateway: Config.GlobalWrites[%d]: path %q, methods %v, table %q: give a path from '/', at least one method and the table (config router.global_writes)", i, w.Path, w.Methods, w.Table)
		}
	}
	return nil
}
