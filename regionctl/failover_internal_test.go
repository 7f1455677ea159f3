package regionctl

import (
	"errors"
	"testing"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/controller"
)

// TestNotDone: the report of a failover that rolled back is a failure
// already shown; a done one is no error.
func TestNotDone(t *testing.T) {
	rep := &api.FailoverReport{ID: "fo-1", Kind: "planned", From: "a", To: "b", State: controller.FailoverRolledBack, Error: "router a did not apply the fence"}
	var ce *cmdError
	if e := notDone("failover", rep); !errors.As(e, &ce) || !ce.shown || ExitStatus(e) != ExitFailed ||
		e.Error() != "failover fo-1 rolled-back: router a did not apply the fence" {
		t.Errorf("notDone = %v", e)
	}
	rep.State = controller.FailoverDone
	if e := notDone("failover", rep); e != nil {
		t.Errorf("notDone of a done failover = %v", e)
	}
}
