package console

import (
	"embed"
	"io/fs"
	"net/http"
)

// Path is where regiond serves the console.
const Path = "/console/"

//go:embed static
var static embed.FS

// contentPolicy lets the page load only its own embedded files and
// talk only to the regiond that served it, and forbids framing it
// (another site could otherwise overlay the switch buttons).
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the console's page and its script and style sheet
// under Path. They are embedded in the binary: the console loads
// nothing from anywhere else.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: embedded files missing: " + err.Error()) // cannot happen: static is embedded above
	}
	files := http.StripPrefix(Path, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
