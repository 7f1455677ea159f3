package lab

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
)

// HistoryReply is the answer to GET /users/{id}/requests: the user's
// ledger history as the serving region's copy has it.
type HistoryReply struct {
	User   int64  `json:"user"`
	Region string `json:"region"`
	// Applied is the user's applied counter (ledger_totals.applied): one
	// per request applied, so a read shows how many of the user's
	// requests the copy holds.
	Applied int64 `json:"applied"`
	// Requests are the request ids of the newest requests (up to 20), newest first.
	Requests []string `json:"requests"`
	Error    string   `json:"error,omitempty"`
}

// history reads a user's ledger history (GET /users/{id}/requests) from
// the region's copy: the lab config reads it bounded, so a gateway may
// serve it from a region that is not the user's.
func (a *App) history(w http.ResponseWriter, r *http.Request) {
	rep := HistoryReply{Region: a.region, Requests: []string{}}
	code := http.StatusOK
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		rep.User = id
		err = a.db.QueryRowContext(r.Context(), `SELECT applied FROM ledger_totals WHERE user_id = ?`, id).Scan(&rep.Applied)
	}
	if err == nil {
		var rows *sql.Rows
		rows, err = a.db.QueryContext(r.Context(), `SELECT request_id FROM requests WHERE user_id = ? ORDER BY created_at DESC, request_id DESC LIMIT 20`, id)
		if err == nil {
			for rows.Next() {
				var rid string
				if err = rows.Scan(&rid); err != nil {
					break
				}
				rep.Requests = append(rep.Requests, rid)
			}
			rows.Close()
		}
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		code, rep.Error = http.StatusNotFound, "the user has no ledger here (POST /users/{id}/ledger first, or it has not been replicated yet)"
	case err != nil:
		code, rep.Error = http.StatusBadRequest, err.Error()
	}
	answer(w, code, "", rep)
}
