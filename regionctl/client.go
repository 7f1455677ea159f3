package regionctl

import (
	"context"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/regiond"
)

// apiClient calls regiond APIs with the operator's token.
type apiClient struct{ api.Client }

func (g *globals) client(cfg *config.Config) (*apiClient, error) {
	tok, err := g.apiToken()
	if err != nil {
		return nil, err
	}
	c, err := regiond.NewAPIClient(cfg, regiond.APITimeout)
	if err != nil {
		return nil, err
	}
	return &apiClient{api.Client{Token: tok, HTTP: c}}, nil
}

// regiond returns the API URL of the first region whose regiond answers.
func (c *apiClient) regiond(ctx context.Context, cfg *config.Config) (string, error) {
	return regiond.Reachable(ctx, c.HTTP, cfg)
}
