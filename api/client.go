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
// discarded). Any other answer is a *StatusError with the status and the
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
		se := &StatusError{Code: resp.StatusCode, Status: resp.Status, Raw: body}
		_ = json.Unmarshal(body, &se.Body)
		return se
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not what was expected: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// StatusError is the error of an answer other than 2xx. Its message is
// the status, the server's error and, in parentheses, its hint.
type StatusError struct {
	// Code and Status are the answer's status, e.g. 503 and
	// "503 Service Unavailable".
	Code   int
	Status string
	// Body is the server's ErrorBody; empty when the answer had none.
	Body ErrorBody
	// Raw is the answer's body (at most 8 MiB), for the endpoints that
	// answer an error status with a document of their own (a failover
	// that rolled back answers 409 with its report).
	Raw []byte
}

func (e *StatusError) Error() string {
	switch {
	case e.Body.Error == "":
		return e.Status
	case e.Body.Hint != "":
		return fmt.Sprintf("%s: %s (%s)", e.Status, e.Body.Error, e.Body.Hint)
	}
	return fmt.Sprintf("%s: %s", e.Status, e.Body.Error)
}

// Hint is what the server says to do next ("" when it said nothing).
func (e *StatusError) Hint() string { return e.Body.Hint }
