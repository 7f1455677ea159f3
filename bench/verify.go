package bench

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"

	"github.com/regionplatform/region/verify"
)

// TableChecksum is how one table compared between source and target
// (verify's chunked checksums, then rows).
type TableChecksum struct {
	Table string `json:"table"`
	// Rows is the source's row count; DifferingRows the rows the target
	// lacks, has extra or holds differently.
	Rows          int64  `json:"rows"`
	DifferingRows int    `json:"differing_rows"`
	Error         string `json:"error,omitempty"`
}

// checksums compares every sbtest table and the probe table in source
// and target, once: the target has caught up, so a difference is real.
func checksums(ctx context.Context, src, dst *sql.DB, tables int) ([]TableChecksum, bool, error) {
	names := []string{probeTable}
	for i := 1; i <= tables; i++ {
		names = append(names, tableName(i))
	}
	cfg := verify.DefaultConfig()
	cfg.Rechecks = 0
	res, err := verify.Compare(ctx, cfg, []verify.Region{{Name: "source", DB: src}, {Name: "target", DB: dst}}, names)
	if err != nil {
		return nil, false, err
	}
	var out []TableChecksum
	for _, t := range res.Tables {
		out = append(out, TableChecksum{Table: t.Table, Rows: t.Rows, DifferingRows: t.DifferingRows, Error: t.Error})
	}
	return out, res.Equal(), nil
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
