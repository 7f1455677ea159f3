package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Kinds of cross-region connection the wan component relays, one proxy
// per directed path and kind. Gossip (UDP and TCP) cannot go through a
// TCP proxy: it is cut inside the nodes instead (see WAN.Partition).
const (
	KindMySQL  = "mysql"  // MySQL queries, probes and binlog reads
	KindKafka  = "kafka"  // appliers consuming the other region's broker
	KindAPI    = "api"    // regiond API calls (status, forwarding to the leader)
	KindRaft   = "raft"   // the controller's Raft RPCs
	KindGossip = "gossip" // memberlist gossip (fault files, not a proxy)
)

// Kinds lists every kind, gossip last.
var Kinds = []string{KindMySQL, KindKafka, KindAPI, KindRaft, KindGossip}

// WANFile is the wan component's proxy list in the lab folder.
const WANFile = "wan.json"

// WANState is the lab's wan component: a toxiproxy server with one proxy
// per directed cross-region path and kind, which every regiond and the
// witness dial through (their dial_via in the lab's config).
type WANState struct {
	// APIPort is toxiproxy's HTTP API.
	APIPort int        `json:"api_port"`
	Proxies []WANProxy `json:"proxies"`
	Proc    Proc       `json:"proc"`
}

// WANProxy is one relayed path: connections From makes to To's server of
// Kind go to 127.0.0.1:Port, which forwards them to Upstream.
type WANProxy struct {
	Name     string `json:"name"`
	From     string `json:"from"`
	To       string `json:"to"`
	Kind     string `json:"kind"`
	Port     int    `json:"port"`
	Upstream string `json:"upstream"`
}

// nodes are the lab's controller nodes: its regions and the witness.
func (s *State) nodes() []string { return append(regionNames(s), WitnessNode) }

// WitnessNode is the witness's name in WAN calls.
const WitnessNode = "witness"

// targets are the servers of node that others dial, by kind.
func (s *State) targets(node string) map[string]int {
	if node == WitnessNode {
		return map[string]int{KindRaft: s.Witness.RaftPort}
	}
	r, _ := s.Region(node)
	return map[string]int{KindMySQL: r.MySQLPort, KindKafka: r.KafkaPort, KindAPI: r.APIPort, KindRaft: r.RaftPort}
}

// gossipAddr is node's gossip address.
func (s *State) gossipAddr(node string) string {
	if node == WitnessNode {
		return "127.0.0.1:" + strconv.Itoa(s.Witness.GossipPort)
	}
	r, _ := s.Region(node)
	return "127.0.0.1:" + strconv.Itoa(r.GossipPort)
}

// planWAN gives a new lab its wan component: a proxy for every path a
// node dials (the witness dials only MySQL and Raft), on free ports that
// picker has not handed out for the lab's own servers.
func planWAN(s *State, picker portPicker) (*WANState, error) {
	port := picker.pick
	w := &WANState{}
	var err error
	if w.APIPort, err = port(); err != nil {
		return nil, err
	}
	for _, from := range s.nodes() {
		for _, to := range s.nodes() {
			if from == to {
				continue
			}
			for _, kind := range Kinds {
				up, ok := s.targets(to)[kind]
				if !ok || (from == WitnessNode && kind != KindMySQL && kind != KindRaft) {
					continue
				}
				p, err := port()
				if err != nil {
					return nil, err
				}
				w.Proxies = append(w.Proxies, WANProxy{Name: from + "_" + to + "_" + kind, From: from, To: to, Kind: kind,
					Port: p, Upstream: "127.0.0.1:" + strconv.Itoa(up)})
			}
		}
	}
	return w, nil
}

// dialVia is node's dial_via: each upstream it dials -> its proxy.
func (w *WANState) dialVia(node string) map[string]string {
	if w == nil {
		return nil
	}
	out := map[string]string{}
	for _, p := range w.Proxies {
		if p.From == node {
			out[p.Upstream] = "127.0.0.1:" + strconv.Itoa(p.Port)
		}
	}
	return out
}

// startWAN starts the wan component and waits for its API.
func (r *starter) startWAN(ctx context.Context) error {
	w := r.st.WAN
	if err := checkPortFree(w.APIPort, "wan"); err != nil {
		return err
	}
	b, err := json.MarshalIndent(w.Proxies, "", "  ")
	if err != nil {
		return err
	}
	file := filepath.Join(r.st.Dir, WANFile)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	t := time.Now()
	p, err := startProc([]string{r.bin.Regionctl, "lab", "serve", "wan", "--port", strconv.Itoa(w.APIPort), "--proxies", file}, nil, r.logPath("wan"))
	if err != nil {
		return err
	}
	if err := r.record(&w.Proc, p); err != nil {
		return err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/version", w.APIPort)
	if err := waitReady(ctx, "wan", p, func(ctx context.Context) error { return httpOK(ctx, url, "") }); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "wan         up on 127.0.0.1:%d, %d proxies (%s)\n", w.APIPort, len(w.Proxies), time.Since(t).Round(10*time.Millisecond))
	return nil
}

// ServeWAN runs the wan component until ctx ends: toxiproxy, as a
// library, with the proxies listed in the file proxiesFile (JSON
// []WANProxy) and its HTTP API on 127.0.0.1:apiPort.
func ServeWAN(ctx context.Context, apiPort int, proxiesFile string) error {
	b, err := os.ReadFile(proxiesFile)
	if err != nil {
		return fmt.Errorf("wan proxies: %w", err)
	}
	var proxies []WANProxy
	if err := json.Unmarshal(b, &proxies); err != nil {
		return fmt.Errorf("wan proxies %s: %w", proxiesFile, err)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	for _, p := range proxies {
		px := toxiproxy.NewProxy(srv, p.Name, "127.0.0.1:"+strconv.Itoa(p.Port), p.Upstream)
		if err := srv.Collection.Add(px, true); err != nil {
			return fmt.Errorf("wan proxy %s on port %d: %w", p.Name, p.Port, err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))) }()
	select {
	case err := <-errc:
		return fmt.Errorf("wan API on port %d: %w", apiPort, err)
	case <-ctx.Done():
	}
	err = srv.Shutdown()
	srv.Collection.Clear()
	if e := <-errc; e != nil && !errors.Is(e, context.Canceled) {
		err = errors.Join(err, e)
	}
	return err
}
