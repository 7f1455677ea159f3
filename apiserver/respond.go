package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/regionplatform/region/api"
)

// WriteJSON writes v, indented, as a JSON response with status code. If
// v cannot be encoded it writes a 500 error instead.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(api.ErrorBody{Error: "internal error: the response could not be encoded", Hint: "this is a bug in regiond: please report it"})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError writes {"error": msg, "hint": hint} with status code; the
// hint is left out when empty.
func WriteError(w http.ResponseWriter, code int, msg, hint string) {
	WriteJSON(w, code, api.ErrorBody{Error: msg, Hint: hint})
}
