package liveness

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// probeLoop probes region's MySQL every MySQLInterval until ctx ends.
func (m *Member) probeLoop(ctx context.Context, region string) {
	t := time.NewTicker(m.cfg.MySQLInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, m.cfg.MySQLTimeout)
		err := m.cfg.ProbeMySQL(pctx, region)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		m.mu.Lock()
		was, known := m.mysql[region]
		m.mysql[region] = ok
		m.mu.Unlock()
		if known && was != ok {
			m.log.Info("mysql reachability changed", "region", region, "reachable", ok, "err", err)
		}
		v := 0.0
		if ok {
			v = 1
		}
		m.m.mysql.WithLabelValues(m.cfg.Name, region).Set(v)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// viewLoop gossips the member's view and runs the Detector every
// ViewInterval, and joins the others while it knows none.
func (m *Member) viewLoop(ctx context.Context, ml *memberlist.Memberlist, det *Detector) error {
	t := time.NewTicker(m.cfg.ViewInterval)
	defer t.Stop()
	var lastJoin time.Time
	for {
		if len(m.cfg.Join) > 0 && ml.NumMembers() <= 1 && time.Since(lastJoin) >= m.cfg.JoinRetry {
			lastJoin = time.Now()
			if n, err := ml.Join(m.cfg.Join); err != nil {
				m.log.Warn("join gossip; retrying", "join", m.cfg.Join, "joined", n, "err", err)
			}
		}
		m.tick(det)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *Member) tick(det *Detector) {
	now := m.clock()
	members := m.members.list()
	m.m.members.WithLabelValues(m.cfg.Name).Set(float64(len(members)))
	alive := map[string]bool{}
	for _, r := range m.cfg.Regions {
		alive[r] = false
	}
	m.mu.Lock()
	for _, n := range members {
		if n.Role == RoleRegiond {
			if _, known := alive[n.Region]; known && !m.silent(now, n.Name) {
				alive[n.Region] = true
			}
		}
	}
	m.seq++
	own := View{Observer: m.cfg.Name, Region: m.cfg.Region, Boot: m.boot, Seq: m.seq, Alive: alive, MySQL: map[string]bool{}, ReceivedAt: now}
	for r, ok := range m.mysql {
		own.MySQL[r] = ok
	}
	own.DownMS = m.lostFor(now, own)
	m.views[own.Observer] = own
	views := make([]View, 0, len(m.views))
	for _, v := range m.views {
		views = append(views, v)
	}
	m.mu.Unlock()

	if b, err := encodeView(own); err == nil {
		m.queue.QueueBroadcast(viewBroadcast{name: "view/" + own.Observer, msg: b})
	}
	events := det.Observe(now, views)
	status := det.Status(now)
	m.mu.Lock()
	m.status = status
	m.mu.Unlock()
	for _, e := range events {
		m.m.events.WithLabelValues(m.cfg.Name, e.Kind, e.Region).Inc()
		m.log.Warn("region liveness event", "kind", e.Kind, "region", e.Region, "observers", e.Observers, "of", e.Of, "cooldown_until", e.CooldownUntil)
		if m.cfg.OnEvent != nil {
			m.cfg.OnEvent(e)
		}
	}
}

// silent reports whether member name, listed by the gossip, has sent no
// view for SilentAfter: killed, or cut off, before memberlist says so. m.mu
// is held.
func (m *Member) silent(now time.Time, name string) bool {
	v, heard := m.views[name]
	return name != m.cfg.Name && heard && now.Sub(v.ReceivedAt) > m.cfg.SilentAfter
}

// lostFor returns, for every region own has lost, for how long it has
// been lost without a break, and keeps the count for the next tick. m.mu
// is held.
func (m *Member) lostFor(now time.Time, own View) map[string]int64 {
	if m.downAt == nil {
		m.downAt = map[string]time.Time{}
	}
	out := map[string]int64{}
	for _, r := range m.cfg.Regions {
		if !own.down(r) {
			delete(m.downAt, r)
			continue
		}
		if _, ok := m.downAt[r]; !ok {
			m.downAt[r] = now
		}
		out[r] = now.Sub(m.downAt[r]).Milliseconds()
	}
	return out
}

// receive stores a view gossiped by another observer.
func (m *Member) receive(b []byte) {
	v, err := decodeView(b)
	if err != nil {
		m.m.views.WithLabelValues(m.cfg.Name, "bad").Inc()
		m.log.Warn("bad view received", "err", err)
		return
	}
	m.m.views.WithLabelValues(m.cfg.Name, "ok").Inc()
	if v.Observer == m.cfg.Name {
		return
	}
	v.ReceivedAt = m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.views[v.Observer]; ok && !v.newer(old) {
		return
	}
	m.views[v.Observer] = v
}

func (m *Member) encodedOwnView() []byte {
	m.mu.Lock()
	v, ok := m.views[m.cfg.Name]
	m.mu.Unlock()
	if !ok {
		return nil
	}
	b, _ := encodeView(v)
	return b
}

func decodeMeta(b []byte) (Meta, bool) {
	var meta Meta
	err := json.Unmarshal(b, &meta)
	return meta, err == nil
}

// Members returns the members this one sees alive (or suspect), itself
// included, sorted by name.
func (m *Member) Members() []MemberInfo { return m.members.list() }

// Views returns the latest view of every observer heard from (stale ones
// included; see View.ReceivedAt), sorted by observer.
func (m *Member) Views() []View {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]View, 0, len(m.views))
	for _, v := range m.views {
		out = append(out, v.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Observer < out[j].Observer })
	return out
}

// Regions returns the Detector's latest judgement of every region.
func (m *Member) Regions() []RegionStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]RegionStatus(nil), m.status...)
}

// logWriter turns memberlist's log lines ("[WARN] memberlist: ...") into
// slog records.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, lv := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if strings.HasPrefix(line, prefix) {
			level, line = lv, strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	w.l.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}
