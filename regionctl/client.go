package regionctl

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/regiond"
)

// apiTimeout bounds one API call of regionctl.
const apiTimeout = 5 * time.Minute

// apiClient calls regiond APIs with the operator's token.
type apiClient struct{ api.Client }

func (g *globals) client(cfg *config.Config) (*apiClient, error) {
	tok, err := g.apiToken()
	if err != nil {
		return nil, err
	}
	// Failovers and failbacks answer when they are over: catch-up
	// (router.catch_up_timeout), convergence and switches.
	c, err := regiond.NewAPIClient(cfg, apiTimeout)
	if err != nil {
		return nil, err
	}
	return &apiClient{api.Client{Token: tok, HTTP: c}}, nil
}

// regiond returns the API URL of the first region whose regiond answers,
// in config order: routing and switches are deployment-wide, so any
// regiond will do.
func (c *apiClient) regiond(ctx context.Context, cfg *config.Config) (string, error) {
	var errs []string
	for _, r := range cfg.Regions {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(hctx, http.MethodGet, r.URL+"/healthz", nil)
		resp, err := c.HTTP.Do(req)
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
