package lab

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/regionplatform/region/config"
)

// StateFile is the name of the lab's state file inside its folder.
const StateFile = "lab.json"

// State is what a lab folder records about its servers: ports and the
// processes running them. It is written after every process starts, so
// `lab down` can stop whatever an interrupted `lab up` left running.
type State struct {
	Dir     string        `json:"dir"`
	Created time.Time     `json:"created"`
	Buckets int           `json:"buckets"`
	Etcd    EtcdState     `json:"etcd"`
	Regions []RegionState `json:"regions"`
	// Witness is the failover controller's witness.
	Witness WitnessState `json:"witness"`
	// AutoFailover: the controller fails regions over by itself.
	AutoFailover bool `json:"auto_failover,omitempty"`
	// VerifyEvery is the continuous verification interval (0: 30s).
	VerifyEvery time.Duration `json:"verify_every,omitempty"`
	// FailAfter is controller.fail_after (0: DefaultFailAfter).
	FailAfter time.Duration `json:"fail_after,omitempty"`
	// ApplyWait is replication.apply_wait (0: the default).
	ApplyWait time.Duration `json:"apply_wait,omitempty"`
	// PublishWait is replication.publish_wait (0: the default).
	PublishWait time.Duration `json:"publish_wait,omitempty"`
	// MaxLag is router.max_lag (0: 5s).
	MaxLag time.Duration `json:"max_lag,omitempty"`
	// Raft is controller.raft (zero: the defaults).
	Raft config.RaftTimeouts `json:"raft,omitzero"`
	// Tables are replication tables listed besides the sample's.
	Tables []config.Table `json:"tables,omitempty"`
	// WAN is the wan component (nil unless the lab was made with it).
	WAN *WANState `json:"wan,omitempty"`
	// AutoIncrement is every server's auto_increment_increment: the most
	// regions the lab can have (AddRegion). 0 in a lab made before it:
	// the number of regions.
	AutoIncrement int `json:"auto_increment,omitempty"`
	// Partitions is replication.topic.partitions, and how many partitions
	// the brokers give each topic. 0 in a lab made before it: 8.
	Partitions int `json:"partitions,omitempty"`
}

// PartitionCount is the lab's topics' partition count.
func (s *State) PartitionCount() int32 {
	return int32(cmp.Or(s.Partitions, 8))
}

// autoIncrement is the servers' auto_increment_increment.
func (s *State) autoIncrement() int {
	if s.AutoIncrement == 0 {
		return len(s.Regions)
	}
	return s.AutoIncrement
}

// WitnessState is the controller's witness process (regiond --witness).
type WitnessState struct {
	RaftPort    int  `json:"raft_port"`
	GossipPort  int  `json:"gossip_port"`
	MetricsPort int  `json:"metrics_port"`
	Proc        Proc `json:"proc"`
}

// EtcdState is the lab's etcd server.
type EtcdState struct {
	ClientPort int  `json:"client_port"`
	PeerPort   int  `json:"peer_port"`
	Proc       Proc `json:"proc"`
}

// RegionState is one region's servers.
type RegionState struct {
	Name      string `json:"name"`
	MySQLPort int    `json:"mysql_port"`
	KafkaPort int    `json:"kafka_port"`
	APIPort   int    `json:"api_port"`
	// AppPort is the sample app's; GatewayPort regiond's gateway's.
	AppPort     int `json:"app_port"`
	GatewayPort int `json:"gateway_port"`
	// RaftPort and GossipPort are its controller node's.
	RaftPort   int `json:"raft_port"`
	GossipPort int `json:"gossip_port"`
	// Joined says the region was added to the running lab (AddRegion):
	// its regiond runs with --join.
	Joined  bool `json:"joined,omitempty"`
	MySQL   Proc `json:"mysql"`
	Broker  Proc `json:"broker"`
	App     Proc `json:"app"`
	Regiond Proc `json:"regiond"`
}

// APIURL is the base URL of the region's regiond API.
func (r RegionState) APIURL() string { return loopbackURL(r.APIPort) }

// AppURL is the base URL of the region's sample app.
func (r RegionState) AppURL() string { return loopbackURL(r.AppPort) }

// GatewayURL is the base URL of the region's gateway.
func (r RegionState) GatewayURL() string { return loopbackURL(r.GatewayPort) }

func loopbackURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// Region returns the named region's state.
func (s *State) Region(name string) (*RegionState, bool) {
	for i := range s.Regions {
		if s.Regions[i].Name == name {
			return &s.Regions[i], true
		}
	}
	return nil, false
}

// procs lists every process with its display name, in start order.
func (s *State) procs() []namedProc {
	out := []namedProc{{"etcd", "", &s.Etcd.Proc}}
	for i := range s.Regions {
		r := &s.Regions[i]
		out = append(out,
			namedProc{"broker", r.Name, &r.Broker},
			namedProc{"mysql", r.Name, &r.MySQL},
			namedProc{"app", r.Name, &r.App},
			namedProc{"regiond", r.Name, &r.Regiond})
	}
	out = append(out, namedProc{"witness", "", &s.Witness.Proc})
	if s.WAN != nil {
		out = append(out, namedProc{"wan", "", &s.WAN.Proc})
	}
	return out
}

// Pids names every running process of the lab by component and region
// ("etcd", "mysql-a", "regiond-b", "witness"), for measuring them.
func (s *State) Pids() map[string]int {
	out := map[string]int{}
	for _, np := range s.procs() {
		if np.p.Pid == 0 {
			continue
		}
		name := np.component
		if np.region != "" {
			name += "-" + np.region
		}
		out[name] = np.p.Pid
	}
	return out
}

type namedProc struct {
	component, region string
	p                 *Proc
}

func (n namedProc) String() string {
	if n.region == "" {
		return n.component
	}
	return n.component + " " + n.region
}

// ErrNoLab means the folder holds no lab.
var ErrNoLab = errors.New("no lab here")

// LoadState reads DIR/lab.json.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w: start one with `regionctl lab up --dir %s`", dir, ErrNoLab, dir)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", filepath.Join(dir, StateFile), err)
	}
	return &s, nil
}

func (s *State) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, StateFile))
}

// lockDir takes an exclusive lock on the lab folder so that two commands
// never start or stop the same lab at once. Call the returned func to unlock.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock lab folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another regionctl is starting or stopping the lab in %s; wait for it to finish", dir)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
