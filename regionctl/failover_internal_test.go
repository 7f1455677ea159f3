package regionctl

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/failover"
)

// TestRolledBack: a 409 carrying a failover report is that report, and
// its exit is a failure already shown; other errors stay errors.
func TestRolledBack(t *testing.T) {
	report := []byte(`{"id": "fo-1", "kind": "planned", "from": "a", "to": "b", "state": "rolled-back", "error": "router a did not apply the fence"}`)
	err := fmt.Errorf("wrapped: %w", &api.StatusError{Code: http.StatusConflict, Status: "409 Conflict", Raw: report})
	rep := rolledBack(err)
	if rep == nil || rep.ID != "fo-1" || rep.State != failover.FailoverRolledBack {
		t.Fatalf("rolledBack = %+v", rep)
	}
	var ce *cmdError
	if e := notDone("failover", rep); !errors.As(e, &ce) || !ce.shown || ExitStatus(e) != ExitFailed ||
		e.Error() != "failover fo-1 rolled-back: router a did not apply the fence" {
		t.Errorf("notDone = %v", e)
	}
	rep.State = failover.FailoverDone
	if e := notDone("failover", rep); e != nil {
		t.Errorf("notDone of a done failover = %v", e)
	}
	for _, e := range []error{
		&api.StatusError{Code: http.StatusConflict, Status: "409 Conflict", Raw: []byte(`{"error": "a switch is running"}`)},
		&api.StatusError{Code: http.StatusBadRequest, Status: "400 Bad Request", Raw: report},
		errors.New("connection refused"),
	} {
		if rep := rolledBack(e); rep != nil {
			t.Errorf("rolledBack(%v) = %+v, want nil", e, rep)
		}
	}
}
