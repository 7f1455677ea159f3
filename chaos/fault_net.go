package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionplatform/region/lab"
)

// Network fault kinds (Net.Kind).
const (
	NetLatency   = "latency"   // 50-200 ms WAN delay, 20 ms jitter, both ways
	NetBandwidth = "bandwidth" // replication (Kafka) limited to 32 KB/s, both ways
	NetReset     = "reset"     // every cross-region connection reset, both ways
	NetPartition = "partition" // nothing passes between two regions, gossip included
)

// Net is a network fault between two regions (picked by the seed),
// through the lab's wan component (lab up --wan): every cross-region path
// of the pair, both ways. Heal takes it away and closes what it broke.
type Net struct {
	Kind string

	from, to string
	detail   string
}

var _ Fault = (*Net)(nil)

func (n *Net) String() string {
	if n.from == "" {
		return "network " + n.Kind
	}
	return fmt.Sprintf("network %s between %s and %s%s", n.Kind, n.from, n.to, n.detail)
}

// Inject puts the fault on the paths between two regions.
func (n *Net) Inject(ctx context.Context, e *Env) error {
	w, err := lab.OpenWAN(e.St.Dir)
	if err != nil {
		if errors.Is(err, lab.ErrNoWAN) {
			return fmt.Errorf("scenario needs the lab's wan component: regionctl chaos run starts its lab with it; with --dir use a lab made by lab up --wan: %w", err)
		}
		return err
	}
	i := e.Rand.IntN(len(e.St.Regions))
	n.from, n.to = e.St.Regions[i].Name, e.St.Regions[(i+1)%len(e.St.Regions)].Name
	for _, p := range [][2]string{{n.from, n.to}, {n.to, n.from}} {
		switch n.Kind {
		case NetLatency:
			// Not on Raft: the controller's timeouts are LAN timeouts.
			d := time.Duration(50+e.Rand.IntN(151)) * time.Millisecond
			n.detail = fmt.Sprintf(" (%s)", d)
			err = w.Latency(p[0], p[1], d, 20*time.Millisecond, lab.KindMySQL, lab.KindKafka, lab.KindAPI)
		case NetBandwidth:
			err = w.Bandwidth(p[0], p[1], 32, lab.KindKafka)
		case NetReset:
			err = w.Reset(p[0], p[1])
		case NetPartition:
			err = w.Partition(p[0], p[1])
		default:
			return fmt.Errorf("network fault %q: use %s, %s, %s or %s", n.Kind, NetLatency, NetBandwidth, NetReset, NetPartition)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Heal takes the fault away, both ways.
func (n *Net) Heal(ctx context.Context, e *Env) error {
	w, err := lab.OpenWAN(e.St.Dir)
	if err != nil {
		return err
	}
	return errors.Join(w.Heal(n.from, n.to), w.Heal(n.to, n.from))
}
