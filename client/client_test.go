package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/apiserver"
	"github.com/regionplatform/region/client"
)

// TestClient: the token goes along, JSON comes back, and an API error
// carries the server's status, message, hint and Retry-After.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer s3cret-token-000":
			apiserver.WriteError(w, http.StatusUnauthorized, "missing or invalid API token", "send a token")
		case r.URL.Path == "/v1/failbacks":
			w.Header().Set("Retry-After", "3")
			apiserver.WriteError(w, http.StatusServiceUnavailable, "region a has not caught up", "ask again")
		case r.URL.Path == "/v1/failovers" && r.Header.Get("Content-Type") != "application/json":
			apiserver.WriteError(w, http.StatusBadRequest, "no JSON", "")
		case r.URL.Path == "/v1/failovers":
			apiserver.WriteJSON(w, http.StatusConflict, api.FailoverReport{ID: "f1", Kind: "planned", State: "rolled-back", Error: "switch aborted"})
		case r.URL.Path == "/v1/route":
			apiserver.WriteJSON(w, http.StatusOK, api.RouteAnswer{User: r.URL.Query().Get("user"), Cell: "a1"})
		default:
			apiserver.WriteError(w, http.StatusNotFound, "no such endpoint", "")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &client.Client{BaseURL: srv.URL, Token: "s3cret-token-000"}

	ra, err := c.Route(ctx, "10 42")
	if err != nil || ra.User != "10 42" || ra.Cell != "a1" {
		t.Fatalf("Route: %+v %v", ra, err)
	}

	rep, err := c.Failover(ctx, api.FailoverRequest{From: "a", Kind: "planned", Reason: "test"})
	if rep == nil || rep.ID != "f1" || !client.IsStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), "planned f1 ended rolled-back: switch aborted") {
		t.Fatalf("Failover (rolled back): %+v %v", rep, err)
	}

	_, err = c.Failback(ctx, api.FailbackRequest{To: "a", Reason: "test"})
	var e *client.Error
	if !errorsAs(err, &e) || e.StatusCode != 503 || e.RetryAfter != 3*time.Second || e.Message != "region a has not caught up" {
		t.Fatalf("Failback: %v", err)
	}

	bad := c.At(srv.URL + "/")
	bad.Token = "wrong"
	_, err = bad.Route(ctx, "1")
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: missing or invalid API token (send a token)") {
		t.Fatalf("error: %v", err)
	}
	if c.Token != "s3cret-token-000" {
		t.Fatal("At changed the original client")
	}
}

func errorsAs(err error, e **client.Error) bool { return errors.As(err, e) }
