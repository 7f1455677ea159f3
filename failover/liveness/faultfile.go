package liveness

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
)

// FaultsFile is the file, in a controller node's data folder, that names
// the gossip peers a node with fault injection on cuts itself off from:
// one host:port (the peer's gossip address) per line. The lab's wan
// component writes it; see FaultyTransport.Follow.
const FaultsFile = "gossip-faults"

// Follow reads path every interval until ctx ends and applies it with
// Drop: the peers listed are cut off, all others reconnected; a missing
// file cuts off no one. Every change is logged as a warning, because it
// is a fault injected on purpose. It is for test labs, never production.
func (t *FaultyTransport) Follow(ctx context.Context, path string, interval time.Duration, log *slog.Logger) {
	var last []string
	for {
		var addrs []string
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					addrs = append(addrs, l)
				}
			}
			slices.Sort(addrs)
		case !errors.Is(err, os.ErrNotExist):
			log.Warn("gossip fault injection: cannot read the faults file", "path", path, "err", err)
		}
		if !slices.Equal(addrs, last) {
			log.Warn("gossip fault injection: dropping gossip with these peers (test labs only)", "peers", addrs, "file", path)
			t.Drop(addrs...)
			last = addrs
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
