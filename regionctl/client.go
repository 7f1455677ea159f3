package regionctl

import (
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/config"
)

// client returns a client of the regiond APIs of cfg with the operator's
// token and no BaseURL: set it with At, or use call.
func (g *globals) client(cfg *config.Config) (*client.Client, error) {
	tok, err := g.apiToken()
	if err != nil {
		return nil, err
	}
	hc, err := client.NewHTTP(cfg, client.Timeout, nil)
	if err != nil {
		return nil, err
	}
	return &client.Client{Token: tok, HTTP: hc}, nil
}
