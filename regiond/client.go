package regiond

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/regionplatform/region/api"
)

// FetchStatus asks the regiond at baseURL (e.g. http://127.0.0.1:7070)
// for its /v1/status with token. An API error comes back with the
// server's message. c nil means http.DefaultClient.
func FetchStatus(ctx context.Context, c *http.Client, baseURL, token string) (*Status, error) {
	var s Status
	cl := api.Client{Token: token, HTTP: c}
	if err := cl.GetJSON(ctx, strings.TrimSuffix(baseURL, "/")+"/v1/status", &s); err != nil {
		return nil, fmt.Errorf("regiond %s: %w", baseURL, err)
	}
	return &s, nil
}
