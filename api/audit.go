package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// Actor is the identity name, "anonymous" for a rejected request, or
	// "system" for the daemon's own actions.
	Actor string `json:"actor"`
	Role  Role   `json:"role,omitempty"`
	// Action is "METHOD /path" for requests, or a verb like "switch.start".
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	// Result is the HTTP status, or "ok" / "error: ...".
	Result string            `json:"result"`
	Remote string            `json:"remote,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
}

// auditLog appends records to a file, one JSON object per line, each
// synced to disk before the call returns: auditors rely on it surviving
// a crash, and the request rate of an operator API is low.
type auditLog struct {
	mu sync.Mutex
	f  *os.File
}

func openAudit(path string) (*auditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &auditLog{f: f}, nil
}

func (a *auditLog) write(rec AuditRecord) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return fmt.Errorf("audit log is closed")
	}
	if _, err := a.f.Write(b); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return a.f.Sync()
}

func (a *auditLog) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// Audit appends a record of an action that is not an HTTP request, such
// as the daemon starting or a decision taken by the controller.
func (s *Server) Audit(_ context.Context, rec AuditRecord) error { return s.audit.write(rec) }
