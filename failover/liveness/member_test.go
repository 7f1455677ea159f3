package liveness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"
)

// lab is a gossip of real memberlist members on 127.0.0.1: one regiond per
// region and a witness. MySQL probes read a switchboard the test flips.
type lab struct {
	t       testing.TB
	regions []string
	det     DetectorConfig

	mu       sync.Mutex
	mysqlOff map[string]bool // region -> its MySQL is unreachable
	cutOff   map[string]bool // member -> it reaches no MySQL
	members  map[string]*running
	events   map[string][]Event // member -> events it saw
	seed     string
	// keys are the members' gossip keys (SecretKey; none: plain).
	keys map[string][]byte
	// tweak, if set, changes every member's config before it starts.
	tweak func(*Config)
}

type running struct {
	m      *Member
	ft     *FaultyTransport
	cancel context.CancelFunc
	done   chan error
	port   int
}

func newLab(t testing.TB, det DetectorConfig) *lab { return newKeyedLab(t, det, nil) }

// newKeyedLab is newLab with the gossip encrypted with key (nil: plain).
func newKeyedLab(t testing.TB, det DetectorConfig, key []byte) *lab {
	return newLabWith(t, det, key, nil)
}

// newLabWith is newKeyedLab with every member's config changed by tweak.
func newLabWith(t testing.TB, det DetectorConfig, key []byte, tweak func(*Config)) *lab {
	l := &lab{t: t, regions: []string{"a", "b", "c"}, det: det, mysqlOff: map[string]bool{}, cutOff: map[string]bool{}, members: map[string]*running{}, events: map[string][]Event{},
		keys: map[string][]byte{"ra": key, "rb": key, "rc": key, "w": key}, tweak: tweak}
	t.Cleanup(l.close)
	for _, r := range l.regions {
		l.start("r"+r, r, 0)
	}
	l.start("w", "", 0)
	l.waitAll(10*time.Second, "every member sees all four and has their views", func(m *Member) bool {
		return len(m.Members()) == 4 && len(m.Views()) == 4
	})
	return l
}

func (l *lab) setMySQL(region string, up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mysqlOff[region] = !up
}

// probe is member name's MySQL probe.
func (l *lab) probe(name string) func(context.Context, string) error {
	return func(_ context.Context, region string) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.mysqlOff[region] || l.cutOff[name] {
			return errors.New("mysql unreachable")
		}
		return nil
	}
}

// isolate cuts a member off from the gossip and from every MySQL.
func (l *lab) isolate(name string, on bool) {
	l.mu.Lock()
	l.cutOff[name] = on
	l.mu.Unlock()
	l.members[name].ft.Isolate(on)
}

// start runs a member; port 0 picks one, else it reuses the given port.
func (l *lab) start(name, region string, port int) {
	l.t.Helper()
	role := RoleRegiond
	if region == "" {
		role = RoleWitness
	}
	cfg := DefaultConfig(name, region, role)
	cfg.BindPort = port
	cfg.Regions = l.regions
	cfg.Observers = map[string]string{"ra": "a", "rb": "b", "rc": "c", "w": ""}
	cfg.ProbeMySQL = l.probe(name)
	cfg.MySQLInterval = 50 * time.Millisecond
	cfg.ViewInterval = 50 * time.Millisecond
	cfg.JoinRetry = 100 * time.Millisecond
	cfg.LeaveTimeout = 0 // stop as a crash would
	cfg.Detector = l.det
	cfg.APIURL = "http://" + name + ".example"
	cfg.SecretKey = l.keys[name]
	if l.tweak != nil {
		l.tweak(&cfg)
	}
	if os.Getenv("FAILOVER_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if l.seed != "" {
		cfg.Join = []string{l.seed}
	}
	ft := new(FaultyTransport)
	cfg.WrapTransport = ft.Wrap
	cfg.OnEvent = func(e Event) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events[name] = append(l.events[name], e)
	}
	m, err := New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, ft: ft, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case err := <-r.done:
		l.t.Fatalf("start %s: %v", name, err)
	case <-time.After(5 * time.Second):
		l.t.Fatalf("start %s: not ready", name)
	}
	fmt.Sscanf(m.Addr()[len("127.0.0.1:"):], "%d", &r.port)
	if l.seed == "" {
		l.seed = m.Addr()
	}
	l.members[name] = r
}

// close stops every member still running.
func (l *lab) close() {
	for name := range l.members {
		l.stop(name)
	}
}

// stop ends a member's Run (without leaving, as a crash) and waits.
func (l *lab) stop(name string) int {
	l.t.Helper()
	r := l.members[name]
	delete(l.members, name)
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			l.t.Errorf("run %s: %v", name, err)
		}
	case <-time.After(10 * time.Second):
		l.t.Fatalf("%s did not stop", name)
	}
	return r.port
}

func (l *lab) waitAll(d time.Duration, what string, cond func(*Member) bool) {
	l.t.Helper()
	waitFor(l.t, d, what, func() bool {
		for _, r := range l.members {
			if !cond(r.m) {
				return false
			}
		}
		return true
	})
}

func (l *lab) eventsOf(name, kind, region string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events[name] {
		if e.Kind == kind && e.Region == region {
			out = append(out, e)
		}
	}
	return out
}

func (l *lab) anyEvent(kind string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name, es := range l.events {
		for _, e := range es {
			if e.Kind == kind {
				out = append(out, fmt.Sprintf("%s: %s %s %v/%d", name, e.Kind, e.Region, e.Observers, e.Of))
			}
		}
	}
	return out
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func seesRegiond(m *Member, region string) bool {
	for _, mi := range m.Members() {
		if mi.Role == RoleRegiond && mi.Region == region {
			return true
		}
	}
	return false
}

var testDetector = DetectorConfig{FailAfter: time.Second, Cooldown: time.Minute, StaleAfter: time.Second}

func TestMembersSeeEachOther(t *testing.T) {
	l := newLab(t, testDetector)
	l.waitAll(5*time.Second, "four fresh views with every region alive and reachable", func(m *Member) bool {
		vs := m.Views()
		if len(vs) != 4 {
			return false
		}
		for _, v := range vs {
			for _, r := range l.regions {
				if !v.Alive[r] || !v.MySQL[r] {
					return false
				}
			}
		}
		return true
	})
	ms := l.members["ra"].m.Members()
	if ms[0].Name != "ra" || ms[0].Region != "a" || ms[0].Role != RoleRegiond || ms[3].Role != RoleWitness || ms[3].APIURL != "http://w.example" {
		t.Errorf("members %+v", ms)
	}
	if got := l.anyEvent(EventFailed); len(got) > 0 {
		t.Errorf("failures declared in a healthy gossip: %v", got)
	}
}

// TestRegionFailureDeclared: region c's regiond stops and its MySQL is
// unreachable; every other member declares c failed after FailAfter.
func TestRegionFailureDeclared(t *testing.T) {
	l := newLab(t, testDetector)
	l.setMySQL("c", false)
	start := time.Now()
	l.stop("rc")
	l.waitAll(10*time.Second, "rc gone from the gossip", func(m *Member) bool { return !seesRegiond(m, "c") })
	gone := time.Since(start)
	l.waitAll(10*time.Second, "region c declared failed", func(m *Member) bool {
		return len(l.eventsOf(m.cfg.Name, EventFailed, "c")) == 1
	})
	declared := time.Since(start)
	t.Logf("regiond c stopped: out of the gossip everywhere after %s; declared failed everywhere after %s (FailAfter %s)",
		gone.Round(time.Millisecond), declared.Round(time.Millisecond), testDetector.FailAfter)
	for name := range l.members {
		e := l.eventsOf(name, EventFailed, "c")[0]
		if e.Of != 3 || len(e.Observers) < 2 {
			t.Errorf("%s: %+v, want a majority of 3", name, e)
		}
	}
	if declared < testDetector.FailAfter {
		t.Errorf("declared after %s, before FailAfter", declared)
	}
	if got := l.anyEvent(EventFailed); len(got) != 3 {
		t.Errorf("failed events %v, want only c's, once per member", got)
	}
}

// TestSilentRegiondCountsAsGone: with memberlist slow to declare a member
// dead (suspicion 20 probe intervals: 4 s), a regiond that stops sending
// views counts as gone after SilentAfter, and its region (MySQL unreachable
// too) is declared failed while the gossip still lists the regiond.
func TestSilentRegiondCountsAsGone(t *testing.T) {
	l := newLabWith(t, testDetector, nil, func(c *Config) { c.SuspicionMult, c.SuspicionMaxTimeoutMult = 20, 1 })
	l.setMySQL("c", false)
	start := time.Now()
	l.stop("rc")
	l.waitAll(10*time.Second, "region c declared failed", func(m *Member) bool {
		return len(l.eventsOf(m.cfg.Name, EventFailed, "c")) == 1
	})
	t.Logf("declared failed everywhere %s after rc stopped (SilentAfter %s, FailAfter %s)",
		time.Since(start).Round(time.Millisecond), DefaultConfig("x", "", RoleWitness).SilentAfter, testDetector.FailAfter)
	for name, r := range l.members {
		if !seesRegiond(r.m, "c") {
			t.Errorf("%s: rc is out of the gossip already: memberlist decided, not the silence", name)
		}
	}
}

// TestSlowMySQLDeclaresNothing: c's MySQL does not answer the probes (as
// a MySQL too slow for MySQLTimeout) while its regiond runs: nothing is
// declared.
func TestSlowMySQLDeclaresNothing(t *testing.T) {
	l := newLab(t, testDetector)
	l.setMySQL("c", false)
	l.waitAll(10*time.Second, "c's MySQL unreachable in every view", func(m *Member) bool {
		for _, v := range m.Views() {
			if v.Observer == m.cfg.Name {
				return !v.MySQL["c"] && v.Alive["c"]
			}
		}
		return false
	})
	since := time.Now()
	waitFor(t, 10*time.Second, "3 x FailAfter with no failure", func() bool {
		if got := l.anyEvent(EventFailed); len(got) > 0 {
			t.Fatalf("declared failed with its regiond alive: %v", got)
		}
		return time.Since(since) > 3*testDetector.FailAfter
	})
}

// TestRegiondDownMySQLUp: the regiond of c stops but c's MySQL answers:
// c is not declared failed.
func TestRegiondDownMySQLUp(t *testing.T) {
	l := newLab(t, testDetector)
	l.stop("rc")
	l.waitAll(10*time.Second, "rc gone from the gossip", func(m *Member) bool { return !seesRegiond(m, "c") })
	lost := time.Now()
	// Keep checking for three times FailAfter after everyone lost rc.
	waitFor(t, 10*time.Second, "3 x FailAfter with no failure", func() bool {
		if got := l.anyEvent(EventFailed); len(got) > 0 {
			t.Fatalf("declared failed with MySQL reachable: %v", got)
		}
		return time.Since(lost) > 3*testDetector.FailAfter
	})
}

// TestIsolatedObserverDeclaresNothing cuts the witness off from the gossip
// (every packet dropped both ways) and makes MySQL unreachable from it: it
// loses every region, the others lose it, and no region is declared failed.
func TestIsolatedObserverDeclaresNothing(t *testing.T) {
	l := newLab(t, testDetector)
	l.isolate("w", true)
	w := l.members["w"].m
	waitFor(t, 10*time.Second, "the witness alone, having lost every region", func() bool {
		for _, v := range w.Views() {
			if v.Observer == "w" {
				return len(w.Members()) == 1 && v.down("a") && v.down("b") && v.down("c")
			}
		}
		return false
	})
	for name, r := range l.members {
		if name != "w" {
			waitFor(t, 10*time.Second, name+" loses the witness", func() bool { return len(r.m.Members()) == 3 })
		}
	}
	cut := time.Now()
	waitFor(t, 10*time.Second, "3 x FailAfter with no failure", func() bool {
		if got := l.anyEvent(EventFailed); len(got) > 0 {
			t.Fatalf("declared failed by a partition of one observer: %v", got)
		}
		return time.Since(cut) > 3*testDetector.FailAfter
	})
	// Heal: the witness comes back.
	l.isolate("w", false)
	l.waitAll(10*time.Second, "the witness back", func(m *Member) bool { return len(m.Members()) == 4 })
}

// TestFlappingSuppressed: c fails, returns, fails again within the
// cooldown: the second failure is reported as suppressed, not failed.
func TestFlappingSuppressed(t *testing.T) {
	l := newLab(t, testDetector)
	l.setMySQL("c", false)
	port := l.stop("rc")
	wb := "rb"
	waitFor(t, 10*time.Second, "c failed", func() bool { return len(l.eventsOf(wb, EventFailed, "c")) == 1 })

	l.setMySQL("c", true)
	l.start("rc", "c", port)
	waitFor(t, 10*time.Second, "c returned", func() bool { return len(l.eventsOf(wb, EventReturned, "c")) == 1 })

	l.setMySQL("c", false)
	l.stop("rc")
	waitFor(t, 10*time.Second, "c suppressed", func() bool { return len(l.eventsOf(wb, EventSuppressed, "c")) == 1 })
	if n := len(l.eventsOf(wb, EventFailed, "c")); n != 1 {
		t.Errorf("%d failed events, want 1 (the second within the cooldown)", n)
	}
	st := l.members[wb].m.Regions()
	if st[2].Region != "c" || st[2].Failed || st[2].CooldownUntil.IsZero() {
		t.Errorf("status %+v", st[2])
	}
}

// BenchmarkRegionDetection reports how long after a regiond stops (its
// MySQL unreachable) the other members drop it from the gossip, and when
// all of them have declared its region failed, with FailAfter 1 s.
//
//	go test ./failover/liveness -run '^$' -bench RegionDetection -benchtime 5x
func BenchmarkRegionDetection(b *testing.B) {
	var gone, declared time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := newLab(b, testDetector)
		l.setMySQL("c", false)
		b.StartTimer()
		start := time.Now()
		l.stop("rc")
		l.waitAll(10*time.Second, "rc gone", func(m *Member) bool { return !seesRegiond(m, "c") })
		gone += time.Since(start)
		l.waitAll(10*time.Second, "c failed", func(m *Member) bool { return len(l.eventsOf(m.cfg.Name, EventFailed, "c")) == 1 })
		declared += time.Since(start)
		b.StopTimer()
		l.close()
	}
	b.ReportMetric(float64(gone.Milliseconds())/float64(b.N), "ms-gone")
	b.ReportMetric(float64(declared.Milliseconds())/float64(b.N), "ms-declared")
}

// TestDropCutsNamedPeers cuts rc off from each peer by address (as the
// lab's per-peer gossip faults do), then heals it.
func TestDropCutsNamedPeers(t *testing.T) {
	l := newLab(t, testDetector)
	rc := l.members["rc"]
	var others []string
	for _, n := range []string{"ra", "rb", "w"} {
		others = append(others, l.members[n].m.Addr())
		l.members[n].ft.Drop(rc.m.Addr())
	}
	rc.ft.Drop(others...)
	waitFor(t, 10*time.Second, "rc and the others lose each other", func() bool {
		return !seesRegiond(l.members["ra"].m, "c") && !seesRegiond(l.members["rb"].m, "c") && len(rc.m.Members()) == 1
	})
	if !seesRegiond(l.members["ra"].m, "b") || !seesRegiond(l.members["rb"].m, "a") {
		t.Fatal("ra and rb lost each other: Drop cut more than the named peers")
	}
	for _, n := range []string{"ra", "rb", "w", "rc"} {
		l.members[n].ft.Drop()
	}
	l.waitAll(15*time.Second, "rc back", func(m *Member) bool { return len(m.Members()) == 4 })
}

// TestGossipKey: members sharing a key (controller.gossip_key_file) form
// the gossip; a member with another key, or none, never joins it.
func TestGossipKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	l := newKeyedLab(t, testDetector, key)
	l.observerOnly("x", []byte("fedcba9876543210fedcba9876543210"))
	l.observerOnly("y", nil)
	time.Sleep(2 * time.Second)
	for _, name := range []string{"ra", "rb", "rc", "w"} {
		if n := len(l.members[name].m.Members()); n != 4 {
			t.Errorf("%s sees %d members; want the four that share the key", name, n)
		}
	}
	for _, name := range []string{"x", "y"} {
		if n := len(l.members[name].m.Members()); n != 1 {
			t.Errorf("%s (another key or none) sees %d members; want itself alone", name, n)
		}
	}
}

// observerOnly starts one more witness-role member, name, with key,
// joining the lab's seed; it may fail to join (Run keeps retrying).
func (l *lab) observerOnly(name string, key []byte) {
	l.t.Helper()
	l.keys[name] = key
	cfg := DefaultConfig(name, "", RoleWitness)
	cfg.Regions = l.regions
	cfg.Observers = map[string]string{"ra": "a", "rb": "b", "rc": "c", "w": "", name: ""}
	cfg.ProbeMySQL = l.probe(name)
	cfg.JoinRetry = 100 * time.Millisecond
	cfg.LeaveTimeout = 0
	cfg.Detector = l.det
	cfg.SecretKey = key
	cfg.Join = []string{l.seed}
	m, err := New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	l.members[name] = r
}
