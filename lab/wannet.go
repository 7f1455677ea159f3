package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/regionplatform/region/failover/liveness"
)

// WAN is a handle on the network between a lab's regions (a lab started
// with Options.WAN). Faults live in the wan component and in the nodes'
// gossip fault files, not in the handle: they outlast it, and any
// process may change them (regionctl lab net does).
//
// A path is directed: from's connections to to's servers. Kinds narrow a
// call to some kinds of connection (KindMySQL, KindKafka, KindAPI,
// KindRaft, KindGossip); none means every kind. from and to are region
// names or WitnessNode. Gossip can only be partitioned (and healed).
//
//	w, err := lab.OpenWAN(dir)
//	err = w.Latency("b", "a", 100*time.Millisecond, 10*time.Millisecond, lab.KindKafka)
//	err = w.Isolate("c")  // c's regiond cut from everyone, both ways
//	err = w.HealAll()
type WAN struct {
	st *State
	c  *toxiclient.Client
}

// ErrNoWAN means the lab runs no wan component.
var ErrNoWAN = errors.New("the lab runs no wan component")

// OpenWAN returns the handle on the lab in dir.
func OpenWAN(dir string) (*WAN, error) {
	st, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	if st.WAN == nil {
		return nil, fmt.Errorf("%s: %w: make a new lab with `regionctl lab up --wan` (lab.Options.WAN)", dir, ErrNoWAN)
	}
	return &WAN{st: st, c: toxiclient.NewClient("127.0.0.1:" + strconv.Itoa(st.WAN.APIPort))}, nil
}

// Latency delays every byte on the path by latency (± jitter) in each
// direction, so a round trip takes 2×latency more.
func (w *WAN) Latency(from, to string, latency, jitter time.Duration, kinds ...string) error {
	return w.toxic(from, to, kinds, "latency", toxiclient.Attributes{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// Bandwidth limits the path to kbps kilobytes per second in each direction.
func (w *WAN) Bandwidth(from, to string, kbps int, kinds ...string) error {
	if kbps <= 0 {
		return fmt.Errorf("bandwidth %d KB/s: give a positive rate, or Heal the path", kbps)
	}
	return w.toxic(from, to, kinds, "bandwidth", toxiclient.Attributes{"rate": kbps})
}

// Reset resets (TCP RST) every connection on the path as soon as it
// carries data, until Heal.
func (w *WAN) Reset(from, to string, kinds ...string) error {
	return w.toxic(from, to, kinds, "reset_peer", toxiclient.Attributes{"timeout": 0})
}

// Partition blackholes the path: connections are accepted and open ones
// stay open, but nothing gets through (as a lost route would), until
// Heal. Unless kinds leave gossip out, from also stops gossiping with to:
// it drops what it sends to to and the packets it receives from it
// (connections to opens to from still reach it: partition both ways for
// a full cut of the gossip).
func (w *WAN) Partition(from, to string, kinds ...string) error {
	kinds, err := w.check(from, to, kinds)
	if err != nil {
		return err
	}
	if slices.Contains(kinds, KindGossip) {
		if err := w.gossip(from, to, true); err != nil {
			return err
		}
	}
	return w.toxic(from, to, kinds, "timeout", toxiclient.Attributes{"timeout": 0})
}

// Isolate cuts node's own process (its regiond, or the witness) off from
// every other node: every connection it makes, and every connection to
// its API, Raft and gossip. Its region's MySQL and Kafka stay reachable:
// that is a lost observer, not a lost region. To cut a whole region,
// Partition it both ways with every other node.
func (w *WAN) Isolate(node string) error {
	for _, n := range w.st.nodes() {
		if n == node {
			continue
		}
		if err := errors.Join(w.Partition(node, n), w.Partition(n, node, KindAPI, KindRaft, KindGossip)); err != nil {
			return err
		}
	}
	return nil
}

// Heal removes every fault from the path. Connections that were
// partitioned or reset are closed, so clients reconnect at once instead
// of waiting on a stream that lost bytes.
func (w *WAN) Heal(from, to string, kinds ...string) error {
	kinds, err := w.check(from, to, kinds)
	if err != nil {
		return err
	}
	if slices.Contains(kinds, KindGossip) {
		if err := w.gossip(from, to, false); err != nil {
			return err
		}
	}
	for _, p := range w.paths(from, to, kinds) {
		px, err := w.c.Proxy(p.Name)
		if err != nil {
			return fmt.Errorf("wan proxy %s: %w", p.Name, err)
		}
		ts, err := px.Toxics()
		if err != nil {
			return fmt.Errorf("wan proxy %s: %w", p.Name, err)
		}
		broken := false
		for _, t := range ts {
			broken = broken || t.Type == "timeout" || t.Type == "reset_peer"
			if err := px.RemoveToxic(t.Name); err != nil {
				return fmt.Errorf("wan proxy %s: remove %s: %w", p.Name, t.Name, err)
			}
		}
		if broken { // close the connections that lost data
			if err := errors.Join(px.Disable(), px.Enable()); err != nil {
				return fmt.Errorf("wan proxy %s: reopen: %w", p.Name, err)
			}
		}
	}
	return nil
}

// HealAll removes every fault from every path.
func (w *WAN) HealAll() error {
	for _, from := range w.st.nodes() {
		for _, to := range w.st.nodes() {
			if from != to {
				if err := w.Heal(from, to); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// check validates a call's nodes and kinds; no kinds means all.
func (w *WAN) check(from, to string, kinds []string) ([]string, error) {
	nodes := w.st.nodes()
	for _, n := range []string{from, to} {
		if !slices.Contains(nodes, n) {
			return nil, fmt.Errorf("node %q is not in the lab: use one of %s", n, strings.Join(nodes, ", "))
		}
	}
	if from == to {
		return nil, fmt.Errorf("from and to are both %q: a path joins two nodes", from)
	}
	if len(kinds) == 0 {
		return Kinds, nil
	}
	for _, k := range kinds {
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("kind %q: use one of %s", k, strings.Join(Kinds, ", "))
		}
	}
	return kinds, nil
}

// paths are the proxies of from->to of the given kinds.
func (w *WAN) paths(from, to string, kinds []string) []WANProxy {
	var out []WANProxy
	for _, p := range w.st.WAN.Proxies {
		if p.From == from && p.To == to && slices.Contains(kinds, p.Kind) {
			out = append(out, p)
		}
	}
	return out
}

// toxic sets (replaces) a toxic of type typ on both streams of the path.
func (w *WAN) toxic(from, to string, kinds []string, typ string, attrs toxiclient.Attributes) error {
	explicit := len(kinds) > 0
	kinds, err := w.check(from, to, kinds)
	if err != nil {
		return err
	}
	if explicit && typ != "timeout" && slices.Contains(kinds, KindGossip) {
		return fmt.Errorf("kind gossip: gossip can only be partitioned and healed (it is UDP, not relayed)")
	}
	for _, p := range w.paths(from, to, kinds) {
		px, err := w.c.Proxy(p.Name)
		if err != nil {
			return fmt.Errorf("wan proxy %s: %w", p.Name, err)
		}
		for _, stream := range []string{"upstream", "downstream"} {
			name := typ + "_" + stream
			_ = px.RemoveToxic(name) // replace a previous setting
			if _, err := px.AddToxic(name, typ, stream, 1, attrs); err != nil {
				return fmt.Errorf("wan proxy %s: add %s: %w", p.Name, name, err)
			}
		}
	}
	return nil
}

// gossip cuts (or restores) from's gossip with to, in from's fault file:
// from drops what it sends to to and the packets it receives from it.
func (w *WAN) gossip(from, to string, cut bool) error {
	path := w.faultsFile(from)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var peers []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && l != w.st.gossipAddr(to) {
			peers = append(peers, l)
		}
	}
	if cut {
		peers = append(peers, w.st.gossipAddr(to))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(peers, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// faultsFile is node's gossip fault file, in its data folder.
func (w *WAN) faultsFile(node string) string {
	if node == WitnessNode {
		return filepath.Join(w.st.Dir, "witness", liveness.FaultsFile)
	}
	return filepath.Join(w.st.Dir, node, "regiond", liveness.FaultsFile)
}
