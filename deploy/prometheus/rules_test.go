// Package prometheus_test checks the shipped Prometheus rules with
// Debian's promtool: their syntax, and alerts_test.yaml's cases (each
// alert fires on the series it is for, and stays quiet on the ones it is
// not).
package prometheus_test

import (
	"os/exec"
	"testing"
)

func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("Debian's prometheus package is needed (make deps installs it): promtool is not on PATH")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml", "alerts_drill_test.yaml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
