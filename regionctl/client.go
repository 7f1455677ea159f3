package regionctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/dial"
)

// apiClient calls regiond APIs with the operator's token.
type apiClient struct {
	token string
	http  *http.Client
}

func (g *globals) client(cfg *config.Config) (*apiClient, error) {
	tok, err := g.apiToken()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	for _, r := range cfg.Regions {
		if r.APITLS.CertFile != "" {
			// The API's own certificate is checked against the system
			// roots; a private CA is trusted through the etcd TLS CA file.
			tc, err := dial.TLSConfig(cfg, "etcd.tls", cfg.Etcd.TLS)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = tc
			break
		}
	}
	return &apiClient{token: tok, http: &http.Client{Timeout: 10 * time.Second, Transport: tr}}, nil
}

// getJSON GETs url into v; API errors come back with the server's message.
func (c *apiClient) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Hint string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if e.Hint != "" {
				return fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Hint)
			}
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	return json.Unmarshal(body, v)
}
