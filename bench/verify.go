package bench

import (
	"github.com/regionplatform/region/lab"

	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
)

// TableChecksum is CHECKSUM TABLE of one table in source and target.
type TableChecksum struct {
	Table  string `json:"table"`
	Source int64  `json:"source"`
	Target int64  `json:"target"`
}

// checksums compares CHECKSUM TABLE of every sbtest table and the probe
// table in source and target.
func checksums(ctx context.Context, src, dst *sql.DB, tables int) ([]TableChecksum, bool, error) {
	names := []string{probeTable}
	for i := 1; i <= tables; i++ {
		names = append(names, tableName(i))
	}
	equal := true
	var out []TableChecksum
	for _, name := range names {
		c := TableChecksum{Table: name}
		for _, x := range []struct {
			db  *sql.DB
			dst *int64
		}{{src, &c.Source}, {dst, &c.Target}} {
			sum, err := lab.SumTable(ctx, x.db, name)
			if err != nil {
				return nil, false, err
			}
			*x.dst = sum.Checksum
		}
		equal = equal && c.Source == c.Target
		out = append(out, c)
	}
	return out, equal, nil
}

// loadAvg is the one-minute load average of the machine, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
