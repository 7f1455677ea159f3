package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	// Time is when it happened; Audit fills in the current time if zero.
	Time time.Time `json:"time"`
	// Actor is the identity name, "anonymous" for a rejected request, or
	// "system" for the daemon's own actions (Audit's default).
	Actor string `json:"actor"`
	// Role is the actor's role, if it has one.
	Role Role `json:"role,omitempty"`
	// Action is "METHOD /path" for a request, or a verb such as
	// "switch.start".
	Action string `json:"action"`
	// Target is what was acted on, e.g. a cell or region name.
	Target string `json:"target,omitempty"`
	// Result is the HTTP status code of a request, or "ok" / "error: ...".
	Result string `json:"result"`
	// Remote is the client's address for a request.
	Remote string `json:"remote,omitempty"`
	// Detail holds anything else worth keeping. Never put secrets here.
	Detail map[string]string `json:"detail,omitempty"`
}

// errAuditClosed is returned by writes after the server has stopped.
var errAuditClosed = errors.New("api: audit log is closed: the server has stopped")

// auditLog appends records to a file, one JSON object per line. Each
// record is one Write followed by an fsync, under a mutex: auditors rely
// on the log surviving a crash, and an operator API sees few requests.
type auditLog struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil once closed
}

// openAudit opens path for appending, creating it (0600) and its parent
// directories (0700) as needed.
func openAudit(path string) (*auditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("api: create audit log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("api: open audit log: %w", err)
	}
	return &auditLog{path: path, f: f}, nil
}

// write appends rec; with sync it is on disk before write returns. Reads
// that succeeded are written without sync (a console polls every second):
// the next synced record, or the OS, flushes them.
func (a *auditLog) write(rec AuditRecord, sync bool) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("api: encode audit record: %w", err)
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return errAuditClosed
	}
	if _, err := a.f.Write(b); err != nil {
		return fmt.Errorf("api: write audit log %s: %w", a.path, err)
	}
	if !sync {
		return nil
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("api: sync audit log %s: %w", a.path, err)
	}
	return nil
}

func (a *auditLog) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	if err != nil {
		return fmt.Errorf("api: close audit log %s: %w", a.path, err)
	}
	return nil
}

// Audit appends rec to the audit log, for actions that are not HTTP
// requests: the daemon starting, a failover decided by the controller.
// A zero Time becomes the current time and an empty Actor "system". It
// returns once the record is on disk, and fails after Run has returned.
func (s *Server) Audit(_ context.Context, rec AuditRecord) error {
	if rec.Actor == "" {
		rec.Actor = "system"
	}
	return s.audit.write(rec, true)
}
