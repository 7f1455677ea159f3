package liveness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Member is one observer in the liveness gossip: a regiond or the witness.
// Run joins the gossip, probes every region's MySQL, gossips the member's
// view and runs a Detector over everyone's views. The other methods are
// safe for concurrent use and meaningful once Ready is closed.
type Member struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time
	m     *Metrics
	boot  int64
	ready chan struct{}

	mu     sync.Mutex
	ml     *memberlist.Memberlist
	queue  *memberlist.TransmitLimitedQueue
	addr   string
	seq    uint64
	views  map[string]View
	mysql  map[string]bool
	downAt map[string]time.Time // since when this member has lost each region
	status []RegionStatus

	members membership
}

// MemberInfo is one member of the gossip as this member sees it.
type MemberInfo struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	Meta
}

// New checks cfg and returns a member; Run starts it.
func New(cfg Config) (*Member, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Member{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, m: cfg.Metrics, ready: make(chan struct{}),
		views: map[string]View{}, mysql: map[string]bool{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("member", cfg.Name)
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.m == nil {
		m.m = NewMetrics(nil)
	}
	return m, nil
}

// Ready is closed once Run has started the gossip.
func (m *Member) Ready() <-chan struct{} { return m.ready }

// Addr returns the host:port other members join, once Ready.
func (m *Member) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Run runs the member until ctx ends, then leaves the gossip (if
// LeaveTimeout is set) and shuts it down. Call it once.
func (m *Member) Run(ctx context.Context) error {
	det, err := NewDetector(m.cfg.Detector, m.cfg.Regions, m.cfg.Observers)
	if err != nil {
		return err
	}
	m.boot = m.clock().UnixNano()
	ml, port, err := m.create()
	if err != nil {
		return fmt.Errorf("liveness: start %s: %w", m.cfg.Name, err)
	}
	host := m.cfg.BindAddr
	if m.cfg.AdvertiseAddr != "" {
		host = m.cfg.AdvertiseAddr
	}
	if m.cfg.AdvertisePort != 0 {
		port = m.cfg.AdvertisePort
	}
	m.mu.Lock()
	m.ml, m.addr = ml, net.JoinHostPort(host, strconv.Itoa(port))
	m.mu.Unlock()
	close(m.ready)
	m.log.Info("liveness member started", "addr", m.Addr(), "region", m.cfg.Region, "role", m.cfg.Role)

	var wg sync.WaitGroup
	for _, r := range m.cfg.Regions {
		wg.Add(1)
		go func() { defer wg.Done(); m.probeLoop(ctx, r) }()
	}
	err = m.viewLoop(ctx, ml, det)
	wg.Wait()
	if m.cfg.LeaveTimeout > 0 {
		if lerr := ml.Leave(m.cfg.LeaveTimeout); lerr != nil {
			m.log.Warn("leave gossip", "err", lerr)
		}
	}
	if serr := ml.Shutdown(); serr != nil {
		err = errors.Join(err, fmt.Errorf("liveness: shutdown: %w", serr))
	}
	m.log.Info("liveness member stopped")
	return err
}

func (m *Member) create() (*memberlist.Memberlist, int, error) {
	meta, err := json.Marshal(Meta{Region: m.cfg.Region, Role: m.cfg.Role, APIURL: m.cfg.APIURL})
	if err != nil {
		return nil, 0, err
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = m.cfg.Name
	mc.ProbeInterval, mc.ProbeTimeout = m.cfg.ProbeInterval, m.cfg.ProbeTimeout
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = m.cfg.SuspicionMult, m.cfg.SuspicionMaxTimeoutMult
	mc.GossipInterval, mc.PushPullInterval = m.cfg.GossipInterval, m.cfg.PushPullInterval
	mc.AdvertiseAddr, mc.AdvertisePort = m.cfg.AdvertiseAddr, m.cfg.AdvertisePort
	mc.SecretKey = m.cfg.SecretKey
	// Views are a few hundred bytes; compressing every packet (LZW) was 6% of
	// an idle regiond's CPU for nothing worth saving.
	mc.EnableCompression = false
	mc.Logger = log.New(logWriter{m.log}, "", 0)
	d := &delegate{m: m, meta: meta}
	d.queue = &memberlist.TransmitLimitedQueue{NumNodes: m.numMembers, RetransmitMult: mc.RetransmitMult}
	mc.Delegate = d
	mc.Events = &m.members
	m.mu.Lock()
	m.queue = d.queue
	m.mu.Unlock()

	var nt *memberlist.NetTransport
	for try := 0; ; try++ { // with port 0 the UDP port may be taken already
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{m.cfg.BindAddr}, BindPort: m.cfg.BindPort, Logger: mc.Logger})
		if err == nil || m.cfg.BindPort != 0 || try == 4 {
			break
		}
	}
	if err != nil {
		return nil, 0, err
	}
	var tr memberlist.NodeAwareTransport = nt
	if m.cfg.WrapTransport != nil {
		tr = m.cfg.WrapTransport(nt)
	}
	mc.Transport = tr
	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Shutdown()
		return nil, 0, err
	}
	return ml, nt.GetAutoBindPort(), nil
}

func (m *Member) numMembers() int {
	m.mu.Lock()
	ml := m.ml
	m.mu.Unlock()
	if ml == nil {
		return 1
	}
	return ml.NumMembers()
}
