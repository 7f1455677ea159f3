package verify

import (
	"context"
	"fmt"
	"time"
)

// Converge is Compare for a caller that expects the tables identical once
// replication has drained (a drill's pre-check, a test, the chaos
// checker): a differing chunk is re-checked every cfg.RecheckDelay until
// it is equal or within has passed (cfg.Rechecks is not used), and while
// a table cannot be compared (not yet created in a region) or a region
// does not answer, the whole comparison is tried again until then. It
// returns the last Result, or the last error when no comparison could
// run; differences that remain at the deadline are drilled down to rows
// as Compare does.
func Converge(ctx context.Context, cfg Config, regions []Region, tables []string, within time.Duration) (*Result, error) {
	if cfg.RecheckDelay <= 0 {
		return nil, fmt.Errorf("verify: recheck delay %s: converge re-checks that often; use e.g. 500ms", cfg.RecheckDelay)
	}
	deadline := time.Now().Add(within)
	cfg.Rechecks = int(within/cfg.RecheckDelay) + 1
	for {
		res, err := compare(ctx, cfg, regions, tables, deadline)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && (res.Equal() || !res.failed()) || !time.Now().Before(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(cfg.RecheckDelay):
		}
	}
}

// failed reports whether a table could not be compared.
func (r *Result) failed() bool {
	for _, t := range r.Tables {
		if t.Error != "" {
			return true
		}
	}
	return false
}
