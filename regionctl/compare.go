package regionctl

import (
	"context"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/ledger"
	"github.com/regionplatform/region/verify"
)

// compareLab compares tables ("db.table") in every region of a lab with
// verify, re-checking for up to within while replication catches up (a
// table not yet created in a region included).
func compareLab(ctx context.Context, st *lab.State, tables []string, within time.Duration) (*verify.Result, error) {
	regions, closeAll, err := ledger.Regions(st)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	cfg := verify.DefaultConfig()
	cfg.RecheckDelay = 200 * time.Millisecond
	return verify.Converge(ctx, cfg, regions, tables, within)
}
