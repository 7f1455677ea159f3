package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// userKey finds the request's user key: the configured header, then the
// cookie, then the query parameter. It does not allocate unless the query
// value is percent-encoded. Empty means the request carries none.
func (g *Gateway) userKey(r *http.Request) string {
	if g.header != "" {
		if v := r.Header[g.header]; len(v) > 0 {
			if k := strings.TrimSpace(v[0]); k != "" {
				return k
			}
		}
	}
	if g.cfg.UserCookie != "" {
		if k := cookieValue(r.Header["Cookie"], g.cfg.UserCookie); k != "" {
			return k
		}
	}
	if g.cfg.UserQuery != "" {
		return queryValue(r.URL.RawQuery, g.cfg.UserQuery)
	}
	return ""
}

// cookieValue returns the value of the first cookie called name in the
// Cookie header lines, without the allocations of http.Request.Cookie.
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v != "" {
				return v
			}
		}
	}
	return ""
}

// queryValue returns the first value of parameter name in a raw query,
// decoding it only when it is percent- or plus-encoded.
func queryValue(raw, name string) string {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != name || v == "" {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			d, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = d
		}
		return v
	}
	return ""
}
