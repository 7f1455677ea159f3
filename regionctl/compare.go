package regionctl

import (
	"context"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/verify"
)

// compareLab compares tables ("db.table") in every region of a lab with
// verify, re-checking for up to within while replication catches up (a
// table not yet created in a region included).
func compareLab(ctx context.Context, st *lab.State, tables []string, within time.Duration) (*verify.Result, error) {
	var regions []verify.Region
	for _, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		regions = append(regions, verify.Region{Name: r.Name, DB: db})
	}
	cfg := verify.DefaultConfig()
	cfg.RecheckDelay = 200 * time.Millisecond
	return verify.Converge(ctx, cfg, regions, tables, within)
}
