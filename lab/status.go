package lab

import (
	"context"
	"fmt"
	"path/filepath"
)

// Info is what `lab up --json` prints: how to reach every part of the lab.
type Info struct {
	Dir     string       `json:"dir"`
	Config  string       `json:"config"`
	Etcd    []string     `json:"etcd"`
	Regions []RegionInfo `json:"regions"`
}

// RegionInfo is how to reach one region of the lab.
type RegionInfo struct {
	Name  string   `json:"name"`
	MySQL string   `json:"mysql"`
	Kafka []string `json:"kafka"`
	API   string   `json:"api"`
	// App is the region's sample app; Gateway routes every user to the
	// app of the user's cell.
	App     string `json:"app"`
	Gateway string `json:"gateway"`
	Token   string `json:"token"`
}

// Info returns the endpoints of the lab, with its operator token.
func (s *State) Info() (Info, error) {
	tok, err := ReadToken(s.Dir)
	if err != nil {
		return Info{}, err
	}
	in := Info{Dir: s.Dir, Config: filepath.Join(s.Dir, ConfigFile),
		Etcd: []string{fmt.Sprintf("http://127.0.0.1:%d", s.Etcd.ClientPort)}}
	for _, r := range s.Regions {
		in.Regions = append(in.Regions, RegionInfo{Name: r.Name, MySQL: MySQLDSN(r.MySQLPort),
			Kafka:   []string{fmt.Sprintf("127.0.0.1:%d", r.KafkaPort)},
			API:     r.APIURL(),
			App:     r.AppURL(),
			Gateway: r.GatewayURL(), Token: tok})
	}
	return in, nil
}

// ComponentStatus is the state of one lab process.
type ComponentStatus struct {
	Component string `json:"component"`
	Region    string `json:"region,omitempty"`
	Pid       int    `json:"pid"`
	// State is "up" (running and answering), "unhealthy" (running, not
	// answering) or "down".
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	Port   int    `json:"port"`
}

// Status checks every process of the lab in dir.
func Status(ctx context.Context, dir string) ([]ComponentStatus, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	var out []ComponentStatus
	for _, n := range st.procs() {
		cs := ComponentStatus{Component: n.component, Region: n.region, Pid: n.p.Pid, State: "down"}
		var check func(context.Context) error
		switch n.component {
		case "etcd":
			cs.Port = st.Etcd.ClientPort
			check = func(ctx context.Context) error {
				return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", cs.Port), "")
			}
		case "broker":
			r, _ := st.Region(n.region)
			cs.Port = r.KafkaPort
			check = func(context.Context) error {
				if !portOpen(cs.Port) {
					return fmt.Errorf("port %d not answering", cs.Port)
				}
				return nil
			}
		case "mysql":
			r, _ := st.Region(n.region)
			cs.Port = r.MySQLPort
			check = func(ctx context.Context) error { return mysqlReady(ctx, cs.Port) }
		case "witness":
			cs.Port = st.Witness.RaftPort
			check = func(context.Context) error {
				if !portOpen(cs.Port) {
					return fmt.Errorf("raft port %d not answering", cs.Port)
				}
				return nil
			}
		case "app":
			r, _ := st.Region(n.region)
			cs.Port = r.AppPort
			check = func(ctx context.Context) error {
				return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", cs.Port), "")
			}
		case "wan":
			cs.Port = st.WAN.APIPort
			check = func(ctx context.Context) error {
				return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/version", cs.Port), "")
			}
		case "regiond":
			r, _ := st.Region(n.region)
			cs.Port = r.APIPort
			check = func(ctx context.Context) error {
				return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/healthz", cs.Port), "")
			}
		}
		if n.p.Alive() {
			cs.State = "up"
			if err := check(ctx); err != nil {
				cs.State, cs.Detail = "unhealthy", err.Error()
			}
		}
		out = append(out, cs)
	}
	return out, nil
}
