package regionctl

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
)

// pace is how a copy (region rebuild, seed) leaves the donor room, as
// pt-online-schema-change does: a sleep before every batch, and a wait
// while the donor is busy (its Threads_running) or its own replication
// falls behind (the lag of the links into it, which the copy's reads
// slow down).
type pace struct {
	sleep      time.Duration
	maxThreads int
	maxLag     time.Duration // 0: not checked
}

// lagEvery is how often the donor's link lag is read (its regiond's
// status), whatever the batch rate.
const lagEvery = time.Second

func (p *pace) flags(f *pflag.FlagSet) {
	f.IntVar(&p.maxThreads, "max-threads-running", 25, "pause while the donor's Threads_running is above this")
	f.DurationVar(&p.maxLag, "max-lag", 10*time.Second, "pause while a replication link into the donor lags more than this (0: do not check)")
	f.DurationVar(&p.sleep, "sleep", 0, "pause this long before every batch, to leave the donor room (e.g. 10ms)")
}

func (p pace) validate() error {
	if p.maxThreads < 1 || p.sleep < 0 || p.maxLag < 0 {
		return usagef("--max-threads-running must be 1 or more, --sleep and --max-lag 0 or more")
	}
	return nil
}

// throttle returns a copy's Throttle (seed.Config): db is the donor's
// MySQL, status its regiond's status; w hears of each pause once.
func (p pace) throttle(db *sql.DB, status func(context.Context) (*api.Status, error), w io.Writer) func(context.Context) error {
	var links []apply.LinkStatus
	var read time.Time
	return func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.sleep):
		}
		said := ""
		for {
			var name string
			var threads int
			if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Threads_running'").Scan(&name, &threads); err != nil {
				return fmt.Errorf("read the donor's Threads_running: %w", err)
			}
			if p.maxLag > 0 && time.Since(read) >= lagEvery {
				st, err := status(ctx)
				if err != nil {
					return fmt.Errorf("read the donor's replication lag (--max-lag; 0 turns it off): %w", err)
				}
				links, read = st.Links, time.Now()
			}
			why := donorBusy(threads, p.maxThreads, links, p.maxLag)
			if why == "" {
				return nil
			}
			if why != said {
				fmt.Fprintf(w, "donor busy (%s): pausing\n", why)
				said = why
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			read = time.Time{} // read the lag again before going on
		}
	}
}

// donorBusy says why a copy must wait for the donor, or "".
func donorBusy(threads, maxThreads int, links []apply.LinkStatus, maxLag time.Duration) string {
	if threads > maxThreads {
		return fmt.Sprintf("Threads_running %d > %d", threads, maxThreads)
	}
	if maxLag <= 0 {
		return ""
	}
	for _, l := range links {
		if lag := time.Duration(l.LagSeconds * float64(time.Second)); lag > maxLag {
			return fmt.Sprintf("link %s->%s lags %s > %s", l.From, l.To, lag.Round(time.Millisecond), maxLag)
		}
	}
	return ""
}
