package regionctl_test

import (
	"strings"
	"testing"

	"github.com/regionplatform/region/regionctl"
)

// TestChaosCatalogue: chaos list shows at least ten scenarios with the
// self-tests, and a scenario not in it is refused before any lab starts.
func TestChaosCatalogue(t *testing.T) {
	out, errOut, err := run(t, "chaos", "list")
	if err != nil {
		t.Fatalf("chaos list: %v %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 11 {
		t.Errorf("chaos list shows %d scenarios, want at least 10:\n%s", len(lines)-1, out)
	}
	for _, want := range []string{"baseline", "kill-etcd", "forced-failover", "selftest-lost-write", "poison-message"} {
		if !strings.Contains(out, want) {
			t.Errorf("chaos list lacks %s:\n%s", want, out)
		}
	}
	if _, errOut, err := run(t, "chaos", "run", "--scenario", "no-such"); exitCode(err) != regionctl.ExitUsage || !strings.Contains(errOut, "regionctl chaos list") {
		t.Errorf("chaos run of an unknown scenario: %v %s", err, errOut)
	}
	if _, errOut, err := run(t, "chaos", "run", "--scenario", "baseline", "--duration", "1s"); exitCode(err) != regionctl.ExitUsage || !strings.Contains(errOut, "duration 1s") {
		t.Errorf("chaos run with a 1s duration: %v %s", err, errOut)
	}
}
