package regionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/regiond"
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
	c, err := regiond.NewAPIClient(cfg, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &apiClient{token: tok, http: c}, nil
}

// getJSON GETs url into v; API errors come back with the server's message.
func (c *apiClient) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return c.do(req, v)
}

// do sends req with the token and decodes a 2xx answer into v.
func (c *apiClient) do(req *http.Request, v any) error {
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
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Hint string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if e.Hint != "" {
				return fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Hint)
			}
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// sendJSON sends body as JSON with method to url and decodes the answer
// into v; API errors come back with the server's message.
func (c *apiClient) sendJSON(ctx context.Context, method, url string, body, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, v)
}

// regiond returns the API URL of the first region whose regiond answers,
// in config order: routing and switches are deployment-wide, so any
// regiond will do.
func (c *apiClient) regiond(ctx context.Context, cfg *config.Config) (string, error) {
	var errs []string
	for _, r := range cfg.Regions {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(hctx, http.MethodGet, r.URL+"/healthz", nil)
		resp, err := c.http.Do(req)
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
