package failover

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The region-level fence in MySQL. A region failed over (planned or
// forced) is read-only in MySQL as well as fenced in the routing table:
// writes that do not come through a gateway or the data-access guard (a
// batch job, an operator's client) are refused there with error 1290.
// read_only stops accounts without READ_ONLY ADMIN (MariaDB) or
// CONNECTION_ADMIN / SUPER (MySQL 8): the application's; regiond's
// account, which applies replication, holds it. super_read_only is never
// set: it would stop replication into the region too. The failover sets
// it when the region answers; each regiond keeps its own MySQL as the
// controller's state says (controller.State.ReadOnly), which covers a
// region that was down at the failover and a MySQL that restarts
// (started read-only: deploy/ and the lab do). A failback lifts it once
// the region has caught up, before buckets come back.

// readOnlyTimeout bounds setting read_only on a region that may be gone.
const readOnlyTimeout = 3 * time.Second

// SetReadOnly sets db's global read_only to on and reports whether it
// changed it.
func SetReadOnly(ctx context.Context, db *sql.DB, on bool) (bool, error) {
	var cur bool
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&cur); err != nil {
		return false, fmt.Errorf("read read_only: %w", err)
	}
	if cur == on {
		return false, nil
	}
	v := "OFF"
	if on {
		v = "ON"
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL read_only = "+v); err != nil {
		return false, fmt.Errorf("set read_only = %s (regiond's account needs READ_ONLY ADMIN on MariaDB, SYSTEM_VARIABLES_ADMIN on MySQL 8): %w", v, err)
	}
	return true, nil
}

// readOnly sets region's MySQL read_only to on, as step "read-only" (or
// "writable") of failover fr. A region that does not answer is no
// failure: its regiond sets it from the controller's state when it is
// back.
func (o *Orchestrator) readOnly(fr *record, region string, on bool) {
	name, what := "read-only", "read_only=ON"
	if !on {
		name, what = "writable", "read_only=OFF"
	}
	ctx, cancel := context.WithTimeout(fr.ctx, readOnlyTimeout)
	defer cancel()
	db, err := o.repl.DB(region)
	changed := false
	if err == nil {
		changed, err = SetReadOnly(ctx, db, on)
	}
	switch {
	case err != nil:
		o.log.Warn("failover: cannot set read_only on the region's MySQL now; its regiond sets it from the controller's state", "region", region, "on", on, "err", err)
		fr.step(name, nil, fmt.Sprintf("region %s's MySQL did not answer (%v): its regiond sets %s when it is back", region, err, what), nil)
	case changed:
		fr.step(name, nil, fmt.Sprintf("region %s's MySQL set %s", region, what), nil)
	default:
		fr.step(name, nil, fmt.Sprintf("region %s's MySQL already %s", region, what), nil)
	}
}
