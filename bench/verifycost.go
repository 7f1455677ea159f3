package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/verify"
)

// VerifyCostOptions configures RunVerifyCost.
type VerifyCostOptions struct {
	// Dir is a new or empty folder for the lab (empty: a temporary one).
	Dir string
	Bin lab.Binaries
	// Rows is how many rows the compared table holds (sbtest-like).
	Rows int
	// Passes is how many passes are measured.
	Passes int
	// Every is the verify_every the cost is judged against (regiond's
	// default: 2m).
	Every    time.Duration
	Progress io.Writer
}

// DefaultVerifyCostOptions: 100,000 rows, 5 passes, judged against 2m.
func DefaultVerifyCostOptions() VerifyCostOptions {
	return VerifyCostOptions{Rows: 100_000, Passes: 5, Every: 2 * time.Minute}
}

// VerifyCostReport is what one continuous verification pass costs.
type VerifyCostReport struct {
	Rows   int64 `json:"rows"`
	Tables int   `json:"tables"`
	Passes int   `json:"passes"`
	// PassSeconds is the median wall time of a pass.
	PassSeconds float64 `json:"pass_s"`
	// CPUSeconds is the median CPU time of a pass, per process (the
	// comparing process and each region's MariaDB), and Total their sum.
	CPUSeconds map[string]float64 `json:"cpu_s"`
	Total      float64            `json:"cpu_total_s"`
	// EverySeconds is the interval judged against, and CoreShare the
	// share of one core a pass every EverySeconds takes (Total / Every).
	EverySeconds float64 `json:"every_s"`
	CoreShare    float64 `json:"core_share"`
	// Equal: every pass found the regions identical.
	Equal bool `json:"equal"`
}

// Validate names every bad option with its fix (as the command's flags).
func (o VerifyCostOptions) Validate() error {
	var errs []error
	if o.Rows < 1 {
		errs = append(errs, fmt.Errorf("--rows %d: give at least 1 (e.g. 100000)", o.Rows))
	}
	if o.Passes < 1 {
		errs = append(errs, fmt.Errorf("--passes %d: give at least 1 (e.g. 5)", o.Passes))
	}
	if o.Every < 10*time.Second {
		errs = append(errs, fmt.Errorf("--every %s: give the replication.verify_every to judge against, at least 10s (default 2m)", o.Every))
	}
	return errors.Join(errs...)
}

// RunVerifyCost measures continuous verification: a fresh two-region lab
// (its own passes put off for an hour), a table of o.Rows rows
// replicated to both regions, then o.Passes passes of the same code
// regiond runs (verify.RunPass with verify.DefaultMonitorConfig), each
// measured in wall time and in CPU time of this process and both
// MariaDBs. Nothing else writes meanwhile, so the figures are what an
// idle deployment pays.
func RunVerifyCost(ctx context.Context, o VerifyCostOptions) (*VerifyCostReport, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	dir, cleanup, err := workDir(o.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	st, err := lab.Up(ctx, lab.Options{Dir: dir, Regions: []string{"a", "b"}, Bin: o.Bin, Progress: o.Progress, VerifyEvery: time.Hour})
	if err != nil {
		return nil, err
	}
	defer func() { _ = lab.Down(context.Background(), dir, io.Discard) }()
	a, b := st.Regions[0], st.Regions[1]
	src, err := openDB(a.MySQLPort, 4)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := openDB(b.MySQLPort, 4)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if err := createTables(ctx, src, 1); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "filling %s with %d rows\n", tableName(1), o.Rows)
	if err := prepare(ctx, src, 1, o.Rows, 1); err != nil {
		return nil, err
	}
	regions := []verify.Region{{Name: "a", DB: src}, {Name: "b", DB: dst}}
	cfg := verify.DefaultMonitorConfig()
	cfg.Replication.Databases = []string{Database}
	cfg.Regions = func(context.Context) ([]verify.Region, error) { return regions, nil }
	// Replication first: a pass that finds the regions identical.
	deadline := time.Now().Add(5 * time.Minute)
	for p := verify.RunPass(ctx, cfg); !p.Equal(); p = verify.RunPass(ctx, cfg) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("the regions did not become identical: %d rows differ, errors %v", p.DifferingRows, p.Errors)
		}
	}
	pids := map[string]int{"regionctl (the comparison)": os.Getpid(), "mariadb a": a.MySQL.Pid, "mariadb b": b.MySQL.Pid}
	rep := &VerifyCostReport{Passes: o.Passes, CPUSeconds: map[string]float64{}, EverySeconds: o.Every.Seconds(), Equal: true}
	walls := []float64{}
	cpus := map[string][]float64{}
	for i := 0; i < o.Passes; i++ {
		m := startCPU(pids)
		p := verify.RunPass(ctx, cfg)
		used := m.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.Equal = rep.Equal && p.Equal()
		rep.Rows, rep.Tables = p.Rows, p.Tables
		walls = append(walls, p.Finished.Sub(p.Started).Seconds())
		for name, s := range used {
			cpus[name] = append(cpus[name], s)
		}
		fmt.Fprintf(o.Progress, "pass %d: %d rows in %d tables, %.2f s\n", i+1, p.Rows, p.Tables, walls[len(walls)-1])
	}
	rep.PassSeconds = median(walls)
	for name, xs := range cpus {
		rep.CPUSeconds[name] = median(xs)
		rep.Total += rep.CPUSeconds[name]
	}
	rep.CoreShare = rep.Total / o.Every.Seconds()
	return rep, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
