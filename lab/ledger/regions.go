package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/verify"
)

// CreateSchema creates the sample and ledger schema in the lab's first
// region (replication carries it) and waits (up to timeout) until every
// region has the ledger tables.
func CreateSchema(ctx context.Context, st *lab.State, timeout time.Duration) error {
	return lab.CreateSample(ctx, st, timeout, nil)
}

// Regions opens every lab region's MySQL for verify, in lab order; close
// closes them.
func Regions(st *lab.State) (regions []verify.Region, close func(), err error) {
	close = func() {
		for _, r := range regions {
			r.DB.Close()
		}
	}
	for _, r := range st.Regions {
		db, err := lab.OpenMySQL(r.MySQLPort, "")
		if err != nil {
			close()
			return nil, nil, err
		}
		regions = append(regions, verify.Region{Name: r.Name, DB: db})
	}
	return regions, close, nil
}

// Scope limits a comparison to the users' rows: each table's user
// column (user_id, or id in the sample users table); a table without
// one is compared whole.
func Scope(users []int64) func(table string, cols []string) string {
	in := InList(users)
	return func(table string, cols []string) string {
		switch {
		case table == lab.SampleDatabase+".users":
			return "`id` IN (" + in + ")"
		case slices.Contains(cols, "user_id"):
			return "`user_id` IN (" + in + ")"
		}
		return ""
	}
}

// Verify waits (up to timeout) until every region holds the same ledger
// rows of the users (compared with verify), then checks the history
// against them: lost counts the acknowledged writes missing from a
// region that lostGTIDs (a forced failover's reported RPO) does not
// explain, duplicated the (region, user) ledgers that do not add up and
// rows no client sent.
func Verify(ctx context.Context, st *lab.State, h []Write, users []int64, lostGTIDs []string, timeout time.Duration) (lost, duplicated Count, err error) {
	regions, closeAll, err := Regions(st)
	if err != nil {
		return lost, duplicated, err
	}
	defer closeAll()
	cfg := verify.DefaultConfig()
	cfg.RecheckDelay, cfg.Scope = 200*time.Millisecond, Scope(users)
	res, err := verify.Converge(ctx, cfg, regions, lab.LedgerTables, timeout)
	if err == nil && !res.Equal() {
		err = errors.New(strings.Join(res.Differences(5), "; "))
	}
	if err != nil {
		return lost, duplicated, fmt.Errorf("the regions did not converge to the same ledger of the %d users within %s: %w", len(users), timeout, err)
	}
	x := Expect{Users: users, Lost: lostGTIDs}
	for _, r := range regions {
		x.Regions = append(x.Regions, r.Name)
	}
	data, err := ReadAll(ctx, regions, users)
	if err != nil {
		return lost, duplicated, err
	}
	return CheckLost(x, h, data), CheckDuplicate(x, h, data), nil
}

// ReadAll reads the users' ledger rows in every region, by region name.
func ReadAll(ctx context.Context, regions []verify.Region, users []int64) (map[string]*Data, error) {
	data := map[string]*Data{}
	for _, r := range regions {
		d, err := Read(ctx, r.DB, users)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Name, err)
		}
		data[r.Name] = d
	}
	return data, nil
}
