package regiond

import (
	"net/http"
	"time"

	"github.com/regionplatform/region/dial"
)

// newHTTPClient returns an HTTP client with timeout per request that
// connects with dialer (nil: directly).
func newHTTPClient(timeout time.Duration, dialer *dial.Dialer) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dialer.Relayed() {
		tr.DialContext = dialer.DialContext
	}
	return &http.Client{Timeout: timeout, Transport: tr}
}
