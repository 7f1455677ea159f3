package regiond_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labapi"
	"github.com/regionplatform/region/lab/labtest"
)

// TestMonitoringOnTheLab: every metric that deploy/prometheus/alerts.yaml
// and the Grafana dashboard name is served by the lab's regionds (their
// gateways' too) or witness; then Debian's Prometheus scrapes the lab with the
// shipped rules (their `for:` shortened to a second: promtool's tests
// cover the durations) and a poisoned partition makes
// ReplicationNotRunning and PartitionHalted fire for a -> b, and nothing
// for b -> a.
func TestMonitoringOnTheLab(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("Debian's prometheus package is needed (make deps installs it): prometheus is not on PATH")
	}
	st := labtest.Up(t, "a", "b")
	createSchema(t, st, "a")
	labapi.Converged(t, st, 30*time.Second)

	// What the lab serves.
	var targets []string
	for _, r := range st.Regions {
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", r.APIPort))
	}
	witness := fmt.Sprintf("127.0.0.1:%d", st.Witness.MetricsPort)
	served := map[string]bool{}
	for _, r := range st.Regions {
		// The gateway's metrics are the daemon's, on its API address.
		for n := range scrapeNames(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", r.APIPort)) {
			served[n] = true
		}
	}
	wn := scrapeNames(t, "http://"+witness+"/metrics")
	if !wn["regiond_controller_raft_state"] || !wn["regiond_liveness_members"] {
		t.Errorf("the witness's /metrics lacks its controller's or gossip's metrics: %d names", len(wn))
	}
	for n := range wn {
		served[n] = true
	}
	named := regexp.MustCompile(`\bregiond_[a-z0-9_]+`)
	for _, f := range []string{"../deploy/prometheus/alerts.yaml", "../deploy/grafana/region-platform.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, n := range named.FindAllString(string(b), -1) {
			names[n] = true
		}
		if len(names) < 10 {
			t.Errorf("%s names %d metrics: not the file it should be", f, len(names))
		}
		for n := range names {
			if !served[n] {
				t.Errorf("%s queries %s, which no regiond or witness of the lab serves", f, n)
			}
		}
	}

	// Prometheus with the shipped rules.
	dir := t.TempDir()
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules = regexp.MustCompile(`(?m)^(\s+)for: \S+`).ReplaceAll(rules, []byte("${1}for: 1s"))
	if err := os.WriteFile(filepath.Join(dir, "alerts.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := lab.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [alerts.yaml]
scrape_configs:
  - job_name: regiond
    static_configs: [{targets: ['%s']}]
  - job_name: witness
    static_configs: [{targets: ['%s']}]
`, strings.Join(targets, "', '"), witness)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prom := exec.CommandContext(ctx, promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = prom.Wait() }()
	api := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := lab.WaitUntil(ctx, 30*time.Second, func() bool {
		r, err := http.Get(api + "/-/ready")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	}); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		t.Fatalf("prometheus not ready: %v\n%s", err, log)
	}
	// Rules evaluated over running links: no replication alert.
	time.Sleep(4 * time.Second)
	for _, a := range alerts(t, api) {
		if a.Labels["alertname"] == "ReplicationNotRunning" || a.Labels["alertname"] == "PartitionHalted" {
			t.Errorf("before any fault: %s %s for %s -> %s", a.Labels["alertname"], a.State, a.Labels["source"], a.Labels["target"])
		}
	}

	// A message b cannot apply halts its partition of a -> b.
	poison(t, st, "a", st.PartitionCount()-1)
	want := map[string]bool{"ReplicationNotRunning": false, "PartitionHalted": false}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, a := range alerts(t, api) {
			name := a.Labels["alertname"]
			if _, ok := want[name]; !ok {
				continue
			}
			if a.Labels["source"] != "a" || a.Labels["target"] != "b" {
				t.Fatalf("%s %s for %s -> %s: only a -> b halted", name, a.State, a.Labels["source"], a.Labels["target"])
			}
			if a.State == "firing" {
				want[name] = true
			}
		}
		if want["ReplicationNotRunning"] && want["PartitionHalted"] {
			t.Logf("Prometheus fired ReplicationNotRunning and PartitionHalted for a -> b")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the poisoned partition, alerts firing: %v", want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// scrapeNames returns the metric names a /metrics page serves.
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("scrape %s: %s", url, r.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts returns the alerts Prometheus holds pending or firing.
func alerts(t *testing.T, api string) []promAlert {
	t.Helper()
	r, err := http.Get(api + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var body struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Data.Alerts
}
