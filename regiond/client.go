package regiond

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/regionplatform/region/api"
)

// FetchStatus asks the regiond at baseURL (e.g. http://127.0.0.1:7070)
// for its /v1/status with token. An API error comes back with the
// server's message. c nil means http.DefaultClient.
func FetchStatus(ctx context.Context, c *http.Client, baseURL, token string) (*Status, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/v1/status", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("regiond %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("regiond %s: %w", baseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("regiond %s: %s: %s %s", baseURL, resp.Status, e.Error, e.Hint)
		}
		return nil, fmt.Errorf("regiond %s: %s", baseURL, resp.Status)
	}
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("regiond %s: status: %w", baseURL, err)
	}
	return &s, nil
}
