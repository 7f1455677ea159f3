package lab

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/config"
)

// TestWANPlan checks the wan component's proxies, the relays it writes
// into the lab's config (which config.Load accepts), and the handle's
// refusals, without starting anything.
func TestWANPlan(t *testing.T) {
	st := &State{Dir: t.TempDir(), Buckets: 16,
		Etcd:    EtcdState{ClientPort: 2379, PeerPort: 2380},
		Witness: WitnessState{RaftPort: 7300, GossipPort: 7301, MetricsPort: 7302},
		Regions: []RegionState{
			{Name: "a", MySQLPort: 3306, KafkaPort: 9092, APIPort: 7070, AppPort: 8080, GatewayPort: 8081, RaftPort: 7310, GossipPort: 7311},
			{Name: "b", MySQLPort: 3307, KafkaPort: 9093, APIPort: 7071, AppPort: 8082, GatewayPort: 8083, RaftPort: 7320, GossipPort: 7321},
		}}
	picker := portPicker{}
	for range 20 {
		if _, err := picker.pick(); err != nil {
			t.Fatal(err)
		}
	}
	labPorts := len(picker)
	w, err := planWAN(st, picker)
	if err != nil {
		t.Fatal(err)
	}
	// Every proxy port (and the API's) is new to the picker: none repeats
	// a port the lab's own servers were given.
	if len(picker) != labPorts+1+len(w.Proxies) {
		t.Errorf("the wan plan reused ports: %d picked for the lab, %d after planning %d proxies", labPorts, len(picker), len(w.Proxies))
	}
	st.WAN = w
	// a->b and b->a: 4 kinds each; each region -> witness: raft; witness -> each region: mysql, raft.
	if len(w.Proxies) != 4+4+1+1+2+2 {
		t.Fatalf("%d proxies: %+v", len(w.Proxies), w.Proxies)
	}
	if got := w.dialVia("witness"); len(got) != 4 || got["127.0.0.1:3306"] == "" || got["127.0.0.1:9092"] != "" {
		t.Errorf("witness relays %v: want a's and b's MySQL and Raft only", got)
	}
	st.Raft = config.RaftTimeouts{HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond, LeaderLeaseTimeout: 250 * time.Millisecond}
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := writeConfig(st); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(st.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cfg.Region("b")
	if cfg.Controller.Raft != st.Raft {
		t.Errorf("controller.raft %+v, want the lab's %+v", cfg.Controller.Raft, st.Raft)
	}
	if len(b.DialVia) != 4+1 || !cfg.Controller.FaultInjection || len(cfg.Controller.Witness.DialVia) != 4 {
		t.Errorf("config relays: b %v, witness %v, fault_injection %v", b.DialVia, cfg.Controller.Witness.DialVia, cfg.Controller.FaultInjection)
	}

	h, err := OpenWAN(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{h.Partition("a", "x"), `node "x" is not in the lab`},
		{h.Partition("a", "a"), "a path joins two nodes"},
		{h.Latency("a", "b", 1, 0, "udp"), `kind "udp"`},
		{h.Latency("a", "b", 1, 0, KindGossip), "gossip can only be partitioned"},
		{h.Bandwidth("a", "b", 0), "positive rate"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", tc.err, tc.want)
		}
	}

	st.WAN = nil
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWAN(st.Dir); !errors.Is(err, ErrNoWAN) {
		t.Errorf("OpenWAN of a lab without wan: %v", err)
	}
}
