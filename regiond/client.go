package regiond

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/failover"
)

// FetchFailovers asks the regiond at baseURL for the controller's failover
// history (GET /v1/failovers), newest first.
func FetchFailovers(ctx context.Context, c *api.Client, baseURL string) ([]failover.FailoverRecord, error) {
	var a FailoversAnswer
	if err := c.GetJSON(ctx, baseURL+"/v1/failovers", &a); err != nil {
		return nil, err
	}
	return a.Failovers, nil
}

// Reachable returns the API URL of the first region of cfg whose regiond
// answers /healthz, in config order: routing, switches and the controller
// are deployment-wide, so any regiond will do. c nil means
// http.DefaultClient.
func Reachable(ctx context.Context, c *http.Client, cfg *config.Config) (string, error) {
	if c == nil {
		c = http.DefaultClient
	}
	var errs []string
	for _, r := range cfg.Regions {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(hctx, http.MethodGet, r.URL+"/healthz", nil)
		resp, err := c.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r.URL, nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		errs = append(errs, fmt.Sprintf("%s (%s): %v", r.Name, r.URL, err))
	}
	return "", fmt.Errorf("no regiond answers: %s", strings.Join(errs, "; "))
}

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
