package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/regionplatform/region/config"
)

// Continuous verification: regiond compares the replicated tables of
// every region again and again, as regionctl verify does (chunk
// checksums, differing chunks re-checked while replication drains, rows
// read only where a difference stays), so that drift replication cannot
// see (a write with sql_log_bin=0, a restore, a bug) shows in status and
// metrics without anyone asking.

// MonitorConfig configures Monitor.
type MonitorConfig struct {
	// Compare tunes each pass; its Pause paces the chunks so that a pass
	// stays a small load.
	Compare Config
	// Replication says which tables are compared (ReplicatedTables).
	Replication config.Replication
	// Regions opens (or returns open) every region's MySQL, the
	// reference first.
	Regions func(ctx context.Context) ([]Region, error)
	// MaxDiffs bounds the rows a Pass names (default 20).
	MaxDiffs int
}

// DefaultMonitorConfig returns chunks of 1000 rows 20 ms apart, each
// differing chunk re-checked 10 times 1 s apart, and 20 rows named.
func DefaultMonitorConfig() MonitorConfig {
	c := DefaultConfig()
	c.Pause = 20 * time.Millisecond
	return MonitorConfig{Compare: c, MaxDiffs: 20}
}

// Pass is the outcome of one comparison of every replicated table.
type Pass struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Reference is the region the others were compared with (a row
	// "different in b" differs between Reference and b; neither copy is
	// known to be the right one).
	Reference string `json:"reference"`
	// Tables and Rows count what was compared (rows of the reference).
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	// DifferingRows counts rows that differ after the re-checks; Diffs
	// names the first of them.
	DifferingRows int       `json:"differing_rows"`
	Diffs         []RowDiff `json:"diffs,omitempty"`
	// Errors are tables that could not be compared (or why no table was).
	Errors []string `json:"errors,omitempty"`
}

// Equal reports whether the pass found every table identical.
func (p *Pass) Equal() bool { return p.DifferingRows == 0 && len(p.Errors) == 0 }

// RunPass compares every replicated table once.
func RunPass(ctx context.Context, cfg MonitorConfig) *Pass {
	p := &Pass{Started: time.Now().UTC()}
	defer func() { p.Finished = time.Now().UTC() }()
	regions, err := cfg.Regions(ctx)
	if err == nil && len(regions) < 2 {
		err = errors.New("verify: a pass needs at least two regions")
	}
	if err != nil {
		p.Errors = append(p.Errors, err.Error())
		return p
	}
	p.Reference = regions[0].Name
	tables, err := ReplicatedTables(ctx, regions, cfg.Replication)
	if err != nil {
		p.Errors = append(p.Errors, err.Error())
		return p
	}
	c := cfg.Compare
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	res, err := Compare(ctx, c, regions, tables)
	if err != nil {
		p.Errors = append(p.Errors, err.Error())
		return p
	}
	p.Tables = len(res.Tables)
	for _, t := range res.Tables {
		p.Rows += t.Rows
		p.DifferingRows += t.DifferingRows
		if t.Error != "" {
			p.Errors = append(p.Errors, fmt.Sprintf("%s: %s", t.Table, t.Error))
		}
	}
	p.Diffs = res.Diffs[:min(len(res.Diffs), max(cfg.MaxDiffs, 1))]
	return p
}
