package api

import "github.com/regionplatform/region/controller"

// RebuildRequest is the body of POST /v1/rebuilds: regionctl region
// rebuild records its start (state "running") and then its end ("done" or
// "failed") under one id. The actor is the caller; its actor field is
// ignored.
type RebuildRequest = controller.RebuildRecord

// RebuildsView is the body of GET /v1/rebuilds: every rebuild, newest
// first.
type RebuildsView struct {
	Rebuilds []controller.RebuildRecord `json:"rebuilds"`
}
