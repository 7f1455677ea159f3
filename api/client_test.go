package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/regionplatform/region/api"
)

// TestClient: the token goes along, JSON comes back, and an API error
// carries the server's message and hint.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer s3cret-token-000":
			api.WriteError(w, http.StatusUnauthorized, "missing or invalid API token", "send a token")
		case r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json":
			api.WriteError(w, http.StatusBadRequest, "no JSON", "")
		default:
			api.WriteJSON(w, http.StatusOK, map[string]string{"method": r.Method})
		}
	}))
	defer srv.Close()
	c := api.Client{Token: "s3cret-token-000"}
	var got map[string]string
	if err := c.GetJSON(context.Background(), srv.URL, &got); err != nil || got["method"] != "GET" {
		t.Fatalf("GET: %v %v", got, err)
	}
	if err := c.SendJSON(context.Background(), http.MethodPost, srv.URL, map[string]int{"x": 1}, &got); err != nil || got["method"] != "POST" {
		t.Fatalf("POST: %v %v", got, err)
	}
	bad := api.Client{Token: "wrong"}
	err := bad.GetJSON(context.Background(), srv.URL, nil)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: missing or invalid API token (send a token)") {
		t.Fatalf("error: %v", err)
	}
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || se.Hint() != "send a token" || se.Body.Error != "missing or invalid API token" {
		t.Fatalf("error %#v: want a *api.StatusError with the code, message and hint", err)
	}
}
