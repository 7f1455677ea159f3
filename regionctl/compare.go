package regionctl

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/regionplatform/region/lab"
)

// tableSums is a table's row count and checksum in one region.
type tableSums struct {
	Rows     int64
	Checksum int64
}

// labTableSums reads CHECKSUM TABLE and COUNT(*) of tables in every region
// of a lab: regions in lab order, then tables in the order given.
func labTableSums(ctx context.Context, st *lab.State, tables []string) ([][]tableSums, error) {
	out := make([][]tableSums, len(st.Regions))
	for i, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			var s tableSums
			var name string
			var sum sql.NullInt64
			if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+t).Scan(&name, &sum); err != nil {
				db.Close()
				return nil, fmt.Errorf("region %s: checksum %s: %w", r.Name, t, err)
			}
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&s.Rows); err != nil {
				db.Close()
				return nil, fmt.Errorf("region %s: count %s: %w", r.Name, t, err)
			}
			s.Checksum = sum.Int64
			out[i] = append(out[i], s)
		}
		db.Close()
	}
	return out, nil
}

// sameEverywhere reports whether every region has the same sums.
func sameEverywhere(sums [][]tableSums) bool {
	for _, r := range sums[1:] {
		for t := range r {
			if r[t] != sums[0][t] {
				return false
			}
		}
	}
	return true
}

// waitFor polls cond every interval until it is true, fails, or timeout.
func waitFor(ctx context.Context, timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
