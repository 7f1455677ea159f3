package verify

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config tunes Compare. Build it from DefaultConfig.
type Config struct {
	// ChunkSize is how many rows (of the reference region) one checksum
	// covers.
	ChunkSize int
	// Rechecks is how many times a differing chunk is checked again,
	// RecheckDelay apart, before its rows are read and reported.
	// Replication lag drains in that time; real drift stays.
	Rechecks     int
	RecheckDelay time.Duration
	// MaxChunkRows bounds the rows read from one region when a chunk is
	// drilled down (a region may hold far more rows in a key range than
	// the reference's ChunkSize). A chunk past it is reported as an error
	// of its table.
	MaxChunkRows int
	// MaxDiffs caps the row differences kept in a Result; DiffsTotal
	// still counts them all.
	MaxDiffs int
	// Scope, when set, limits the rows compared of each table to those
	// matching the SQL condition it returns for the table's name
	// ("db.table") and columns, e.g. "`user_id` IN (1,2)" to judge a test
	// by its own users; "" compares every row. Chunk bounds, checksums
	// and row reads all apply it.
	Scope func(table string, cols []string) string
	// Pause is a wait after each chunk's checksums, which bounds the load
	// a comparison puts on the servers (continuous verification); 0 runs
	// flat out.
	Pause time.Duration
	// Log receives a line per table (progress); nil discards.
	Log *slog.Logger
}

// DefaultConfig returns chunks of 1000 rows, 10 re-checks 1 s apart,
// drill-down up to 100000 rows per chunk and region, and 1000 kept
// differences.
func DefaultConfig() Config {
	return Config{ChunkSize: 1000, Rechecks: 10, RecheckDelay: time.Second, MaxChunkRows: 100000, MaxDiffs: 1000}
}

// Validate reports every bad field with its fix.
func (c Config) Validate() error {
	var errs []error
	if c.ChunkSize < 1 {
		errs = append(errs, fmt.Errorf("chunk size %d: must be at least 1, e.g. 1000", c.ChunkSize))
	}
	if c.Rechecks < 0 {
		errs = append(errs, fmt.Errorf("rechecks %d: must be 0 or more", c.Rechecks))
	}
	if c.Rechecks > 0 && c.RecheckDelay <= 0 {
		errs = append(errs, fmt.Errorf("recheck delay %s: must be positive when rechecks are on, e.g. 1s", c.RecheckDelay))
	}
	if c.MaxChunkRows < c.ChunkSize {
		errs = append(errs, fmt.Errorf("max chunk rows %d: must be at least the chunk size %d", c.MaxChunkRows, c.ChunkSize))
	}
	if c.MaxDiffs < 1 {
		errs = append(errs, fmt.Errorf("max diffs %d: must be at least 1", c.MaxDiffs))
	}
	return errors.Join(errs...)
}

// Region is one region's MySQL. The first region of a comparison is the
// reference: chunk bounds come from it and differences are told
// relative to it.
type Region struct {
	Name string
	DB   *sql.DB
}
