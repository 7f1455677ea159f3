package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxAnswerBytes bounds how much of an answer a Client reads.
const maxAnswerBytes = 8 << 20

// Client calls a regiond API with a bearer token: JSON bodies both ways,
// and an error that carries the server's message and hint for any answer
// but 2xx. The zero value uses http.DefaultClient and sends no token.
type Client struct {
	// Token is the bearer token sent with every request.
	Token string
	// HTTP sends the requests (nil: http.DefaultClient).
	HTTP *http.Client
}

// GetJSON GETs url and decodes the answer into v (nil: discarded).
func (c *Client) GetJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return c.Do(req, v)
}

// SendJSON sends body (nil: none) as JSON with method to url and decodes
// the answer into v (nil: discarded).
func (c *Client) SendJSON(ctx context.Context, method, url string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Do(req, v)
}

// Do sends req with the token and decodes a 2xx answer into v (nil:
// discarded). Any other answer is an error with the status and the
// server's ErrorBody.
func (c *Client) Do(req *http.Request, v any) error {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e ErrorBody
		switch {
		case json.Unmarshal(body, &e) != nil || e.Error == "":
			return fmt.Errorf("%s", resp.Status)
		case e.Hint != "":
			return fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Hint)
		}
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not what was expected: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
