package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoLab: the production daemon links nothing of the test lab
// (its process control, fake Kafka broker, embedded etcd server, fault
// proxy): a lab drill's kills and client load reach the drill runner
// through live.Lab, which only regionctl fills in.
func TestLinksNoLab(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: not the daemon's dependencies", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/regionplatform/region/lab", "github.com/Shopify/toxiproxy", "github.com/twmb/franz-go/pkg/kfake", "go.etcd.io/etcd/server/"} {
			if d == banned || strings.HasPrefix(d, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(d, banned)) {
				t.Errorf("cmd/regiond links %s", d)
			}
		}
	}
}
