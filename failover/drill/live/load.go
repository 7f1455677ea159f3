package live

import (
	"context"
	"fmt"

	"github.com/regionplatform/region/failover/drill"
)

// Ledger stops the client load and checks its history against what
// every region holds.
func (a *actions) Ledger(ctx context.Context) (drill.LedgerResult, error) {
	var res drill.LedgerResult
	if a.load == nil || a.checked {
		return res, fmt.Errorf("%w: outside a lab the drill runs no load of its own", drill.ErrNoLedger)
	}
	a.load.Pause()
	a.checked = true
	a.completedRPOs(ctx)
	chk, err := a.load.Verify(ctx, ledgerWait)
	if err != nil {
		return res, err
	}
	res.Acknowledged, res.Missing, res.Duplicated, res.Samples = chk.Acknowledged, chk.Missing, chk.Duplicated, chk.Samples
	res.ExplainedByRPO = min(res.Missing, a.rpoLost)
	return res, nil
}
