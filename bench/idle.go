package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/lab"
)

// IdleOptions configures RunIdle.
type IdleOptions struct {
	// Lab, if set, is a running lab to measure; else RunIdle starts a
	// two-region lab in Dir (a temporary folder when empty) and stops it.
	Lab *lab.State
	Dir string
	Bin lab.Binaries
	// Settle is how long the lab runs before the measurement (its start
	// costs more than its idling); Duration how long it is measured.
	Settle, Duration time.Duration
	Progress         io.Writer
}

// IdleReport is what an idle lab costs: every process's CPU time over
// the measurement, in cores (CPU seconds per second).
type IdleReport struct {
	Seconds float64            `json:"measured_s"`
	Cores   map[string]float64 `json:"cores"`
	// Total is every process's cores; MariaDB the region MySQL servers'
	// (the baseline: what the databases cost without the platform);
	// Platform the regionds, the witness, the brokers and etcd (not the
	// lab's sample apps, which stand for the customer's).
	Total    float64 `json:"total_cores"`
	MariaDB  float64 `json:"mariadb_cores"`
	Platform float64 `json:"platform_cores"`
	// PlatformVsMariaDB is Platform / MariaDB.
	PlatformVsMariaDB *float64 `json:"platform_vs_mariadb,omitempty"`
}

// Validate checks the durations, naming the flags that set them.
func (o IdleOptions) Validate() error {
	if o.Duration < time.Second || o.Settle < 0 {
		return fmt.Errorf("--duration %s, --settle %s: give a duration of at least 1s and a settle time of 0 or more", o.Duration, o.Settle)
	}
	return nil
}

// RunIdle measures an idle lab: nothing is written, so what the
// processes spend is the platform's standing cost (heartbeats, Raft,
// gossip, checkpoints, polling).
func RunIdle(ctx context.Context, o IdleOptions) (*IdleReport, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	st := o.Lab
	if st == nil {
		dir, cleanup, err := workDir(o.Dir)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		fmt.Fprintf(o.Progress, "idle: starting a two-region lab in %s\n", dir)
		if st, err = lab.Up(ctx, lab.Options{Dir: dir, Regions: []string{"a", "b"}, Bin: o.Bin, Progress: io.Discard}); err != nil {
			return nil, err
		}
		defer lab.Down(context.WithoutCancel(ctx), dir, nil)
	}
	fmt.Fprintf(o.Progress, "idle: settling %s, then measuring %s\n", o.Settle, o.Duration)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(o.Settle):
	}
	cpu := startCPU(st.Pids())
	start := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(o.Duration):
	}
	used := cpu.stop()
	rep := &IdleReport{Seconds: time.Since(start).Seconds(), Cores: map[string]float64{}}
	for name, s := range used {
		c := s / rep.Seconds
		rep.Cores[name] = c
		rep.Total += c
		switch {
		case strings.HasPrefix(name, "mysql-"):
			rep.MariaDB += c
		case !strings.HasPrefix(name, "app-"):
			rep.Platform += c
		}
	}
	if rep.MariaDB > 0 {
		rep.PlatformVsMariaDB = opt(rep.Platform / rep.MariaDB)
	}
	return rep, nil
}

// WriteText prints the report for people: every process, busiest first.
func (r *IdleReport) WriteText(w io.Writer) error {
	names := slices.SortedFunc(maps.Keys(r.Cores), func(a, b string) int {
		if r.Cores[a] != r.Cores[b] {
			if r.Cores[a] > r.Cores[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %.3f cores\n", n, r.Cores[n])
	}
	_, err := fmt.Fprintf(w, "idle lab over %.0fs: %.3f cores in all; MariaDB %.3f, the platform %.3f (%s x MariaDB)\n",
		r.Seconds, r.Total, r.MariaDB, r.Platform, fmtOpt(r.PlatformVsMariaDB, "%.1f"))
	return err
}
