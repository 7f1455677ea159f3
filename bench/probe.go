package bench

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

const (
	// probeEvery is how often a probe row is written to the source.
	probeEvery = 100 * time.Millisecond
	// probePoll is how often the target is asked for new probe rows: the
	// resolution of the lag figures.
	probePoll = 10 * time.Millisecond
)

// prober measures end-to-end lag: it writes a row holding its send time
// to the source every probeEvery, and polls the target until the row is
// there. Lag is arrival minus send, both on this process's clock.
type prober struct {
	src, dst *sql.DB

	mu      sync.Mutex
	next    int64               // id of the next probe
	pending map[int64]time.Time // sent, not yet seen in the target
	lags    []float64           // seconds, of probes that arrived
	err     error
}

// newProber returns a prober whose first probe row has id first.
func newProber(src, dst *sql.DB, first int64) *prober {
	return &prober{src: src, dst: dst, next: first, pending: map[int64]time.Time{}}
}

// write sends probes until ctx ends; committed counts each as a source
// transaction.
func (p *prober) write(ctx context.Context, committed func()) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		id := p.next
		p.next++
		p.mu.Unlock()
		// Pending before it is sent, so a fast poll cannot miss it. The
		// insert is not cut short when ctx ends: a probe sent is awaited.
		sent := time.Now()
		p.mu.Lock()
		p.pending[id] = sent
		p.mu.Unlock()
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_, err := p.src.ExecContext(ictx, "INSERT INTO "+probeTable+" (id, sent_ns) VALUES (?, ?)", id, sent.UnixNano())
		cancel()
		if err != nil {
			p.fail(fmt.Errorf("write probe %d: %w", id, err))
			return
		}
		committed()
	}
}

// poll looks for arrived probes every probePoll until ctx ends.
func (p *prober) poll(ctx context.Context) {
	t := time.NewTicker(probePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.pollOnce(ctx); err != nil {
			if ctx.Err() == nil {
				p.fail(err)
			}
			return
		}
	}
}

func (p *prober) pollOnce(ctx context.Context) error {
	p.mu.Lock()
	lowest := int64(-1)
	for id := range p.pending {
		if lowest < 0 || id < lowest {
			lowest = id
		}
	}
	p.mu.Unlock()
	if lowest < 0 {
		return nil
	}
	// The row was visible when the query ran, and was not at the previous
	// poll: arrival is now, to within probePoll.
	asked := time.Now()
	rows, err := p.dst.QueryContext(ctx, "SELECT id FROM "+probeTable+" WHERE id >= ?", lowest)
	if err != nil {
		return fmt.Errorf("poll probes: %w", err)
	}
	defer rows.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if sent, ok := p.pending[id]; ok {
			p.lags = append(p.lags, max(asked.Sub(sent), 0).Seconds())
			delete(p.pending, id)
		}
	}
	return rows.Err()
}

func (p *prober) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// waitAll polls until every probe sent has arrived, or timeout passes.
func (p *prober) waitAll(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if err := p.pollOnce(ctx); err != nil {
			return err
		}
		p.mu.Lock()
		left, err := len(p.pending), p.err
		p.mu.Unlock()
		switch {
		case err != nil:
			return err
		case left == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d probe rows never reached the target in %s", left, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(probePoll):
		}
	}
}

// result returns the lag samples, in seconds, and the first error.
func (p *prober) result() ([]float64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]float64(nil), p.lags...), p.err
}
