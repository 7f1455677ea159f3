// Package client calls regiond's HTTP API with the wire types of package
// api: one typed method per endpoint, a bearer token, and errors that
// carry the server's status, message and hint.
//
// Usage:
//
//	hc, err := client.NewHTTP(cfg, client.Timeout)
//	if err != nil {
//		return err
//	}
//	c, err := client.Dial(ctx, cfg, token, hc) // the first regiond that answers
//	if err != nil {
//		return err
//	}
//	st, err := c.Status(ctx)
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
)

// maxAnswerBytes bounds how much of an answer a Client reads.
const maxAnswerBytes = 8 << 20

// Client calls one regiond's API with a bearer token: JSON bodies both
// ways. The zero value of HTTP means http.DefaultClient.
type Client struct {
	// BaseURL is the regiond's API, e.g. http://127.0.0.1:7070.
	BaseURL string
	// Token is the bearer token sent with every request.
	Token string
	// HTTP sends the requests (nil: http.DefaultClient).
	HTTP *http.Client
}

// At returns a copy of c that calls the regiond at baseURL.
func (c *Client) At(baseURL string) *Client {
	cp := *c
	cp.BaseURL = strings.TrimSuffix(baseURL, "/")
	return &cp
}

// Error is an answer other than 2xx.
type Error struct {
	// Method and Path are the request's.
	Method, Path string
	// StatusCode and Status are the answer's (e.g. 503, "503 Service Unavailable").
	StatusCode int
	Status     string
	// Message and Hint are the server's api.ErrorBody, when it sent one.
	Message, Hint string
	// RetryAfter is the server's Retry-After (0: none): the refusal is
	// one that time may lift.
	RetryAfter time.Duration
	// body is the answer's body (at most maxAnswerBytes).
	body []byte
}

// Error reads "503 Service Unavailable: message (hint)".
func (e *Error) Error() string {
	switch {
	case e.Message == "":
		return e.Status
	case e.Hint != "":
		return fmt.Sprintf("%s: %s (%s)", e.Status, e.Message, e.Hint)
	}
	return fmt.Sprintf("%s: %s", e.Status, e.Message)
}

// IsStatus reports whether err is an *Error with the status code.
func IsStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// get GETs path and decodes the answer into v (nil: discarded).
func (c *Client) get(ctx context.Context, path string, v any) error {
	return c.send(ctx, http.MethodGet, path, nil, v)
}

// send sends body (nil: none) as JSON with method to path and decodes
// the answer into v (nil: discarded).
func (c *Client) send(ctx context.Context, method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Do(req, v)
}

// Do sends req with the token and decodes a 2xx answer into v (nil:
// discarded). Any other answer is an *Error.
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
		e := &Error{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode, Status: resp.Status, body: body}
		var b api.ErrorBody
		if json.Unmarshal(body, &b) == nil {
			e.Message, e.Hint = b.Error, b.Hint
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not what was expected: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
