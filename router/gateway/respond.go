package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Refusal is the JSON body of a write refused 503 because its bucket is
// write-forbidden.
type Refusal struct {
	Error             string `json:"error"`
	Bucket            int    `json:"bucket"`
	Cell              string `json:"cell"`
	Epoch             uint64 `json:"epoch"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

// Problem is the JSON body of every other answer the gateway gives itself
// (400, 502, 503): what went wrong and what to do, and where it applies.
type Problem struct {
	Error string `json:"error"`
	// Region and Upstream name the application that failed (502).
	Region   string `json:"region,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	// Header, Cookie and Query say where the user key is expected (400).
	Header string `json:"header,omitempty"`
	Cookie string `json:"cookie,omitempty"`
	Query  string `json:"query,omitempty"`
	// RetryAfterSeconds is set with a 503.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// writeJSON answers code with body v; retry adds Retry-After.
func (g *Gateway) writeJSON(w http.ResponseWriter, code int, retry bool, v any) {
	if p, ok := v.(Problem); ok && retry {
		p.RetryAfterSeconds = g.retrySecs
		v = p
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"the gateway could not encode its answer: this is a bug, please report it"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if retry {
		h["Retry-After"] = g.retryAfter
	}
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
	g.m.count(code)
}

// headerVals are the values of the routing headers for one epoch, made
// once so that setting them on a request does not allocate. The slices
// are shared: ReverseProxy copies header values before it sends them.
type headerVals struct {
	epoch    uint64
	epochVal []string
	cells    map[string][]string
	buckets  [][]string
}

func (h *headerVals) bucket(b int) []string {
	if b < len(h.buckets) {
		return h.buckets[b]
	}
	return []string{strconv.Itoa(b)}
}

func (h *headerVals) cell(name string) []string {
	if v, ok := h.cells[name]; ok {
		return v
	}
	return []string{name}
}

// headerVals returns the header values for epoch, building them on the
// first request of a new epoch.
func (g *Gateway) headerVals(epoch uint64) *headerVals {
	old := g.hdr.Load()
	if old != nil && old.epoch == epoch {
		return old
	}
	h := &headerVals{epoch: epoch, epochVal: []string{strconv.FormatUint(epoch, 10)}, cells: map[string][]string{}}
	t := g.cfg.Router.Table()
	if t != nil {
		for _, c := range t.Cells {
			h.cells[c.Name] = []string{c.Name}
		}
		if old != nil && len(old.buckets) == t.Buckets {
			h.buckets = old.buckets
		} else {
			h.buckets = make([][]string, t.Buckets)
			for b := range h.buckets {
				h.buckets[b] = []string{strconv.Itoa(b)}
			}
		}
	}
	g.hdr.Store(h)
	return h
}
