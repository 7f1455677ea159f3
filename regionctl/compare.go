package regionctl

import (
	"context"
	"fmt"
	"time"

	"github.com/regionplatform/region/lab"
)

// labTableSums reads every table's lab.TableSum in every region of a lab:
// regions in lab order, then tables in the order given.
func labTableSums(ctx context.Context, st *lab.State, tables []string) ([][]lab.TableSum, error) {
	out := make([][]lab.TableSum, len(st.Regions))
	for i, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			s, err := lab.SumTable(ctx, db, t)
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("region %s: %w", r.Name, err)
			}
			out[i] = append(out[i], s)
		}
		db.Close()
	}
	return out, nil
}

// sameEverywhere reports whether every region has the same sums.
func sameEverywhere(sums [][]lab.TableSum) bool {
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
