package regiond_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
	"github.com/regionplatform/region/regiond"
)

func TestMain(m *testing.M) { labtest.Main(m) }

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestLabRegiond checks a regiond process of a real lab: the token rules,
// healthy dependencies, the audit trail, and a graceful SIGTERM.
func TestLabRegiond(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	r := st.Regions[0]
	base := r.APIURL()
	op := readFile(t, filepath.Join(st.Dir, lab.TokenFile))
	viewer := readFile(t, filepath.Join(st.Dir, lab.ViewerTokenFile))

	if code, body := get(t, base+"/v1/status", ""); code != 401 || !strings.Contains(string(body), "missing or invalid API token") {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, _ := get(t, base+"/v1/status", "wrong-token-wrong-token"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, body := get(t, base+"/metrics", ""); code != 200 || !strings.Contains(string(body), `regiond_info{region="a"`) {
		t.Errorf("metrics: %d", code)
	}
	// Dependencies turn healthy within a few check intervals.
	var s api.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(t, base+"/v1/status", viewer)
		if code != 200 {
			t.Fatalf("viewer status: %d %s", code, body)
		}
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		if s.Healthy || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !s.Healthy || s.Region != "a" || len(s.Checks) != 3 || len(s.Cells) != 2 {
		t.Errorf("status = %+v", s)
	}
	if code, _ := get(t, base+"/v1/status", op); code != 200 {
		t.Errorf("operator status: %d", code)
	}

	// SIGTERM: regiond stops within 10 s, and says so.
	t0 := time.Now()
	if err := syscall.Kill(r.Regiond.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for r.Regiond.Alive() && time.Since(t0) < 15*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(t0); r.Regiond.Alive() || took > 10*time.Second {
		t.Fatalf("regiond still running %s after SIGTERM", took)
	} else {
		t.Logf("regiond stopped %s after SIGTERM", took.Round(time.Millisecond))
	}
	if log := readFile(t, r.Regiond.Log); !strings.Contains(log, `"msg":"regiond stopped"`) {
		t.Errorf("regiond log does not say it stopped cleanly:\n%s", log)
	}

	audit := readFile(t, filepath.Join(st.Dir, "a", "regiond", "audit.log"))
	for _, want := range []string{`"actor":"system","action":"regiond.start"`, `"actor":"anonymous","action":"GET /v1/status","result":"401"`,
		`"actor":"lab-viewer","role":"viewer","action":"GET /v1/status","result":"200"`, `"actor":"lab-operator"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, op) || strings.Contains(audit, viewer) {
		t.Error("audit log contains a token")
	}
	for _, f := range []string{r.Regiond.Log} {
		if b := readFile(t, f); strings.Contains(b, op) || strings.Contains(b, viewer) {
			t.Errorf("%s contains a token", f)
		}
	}
}

// TestDaemonInProcess runs a daemon in the test process against the lab's
// servers and checks Run returns cleanly when its context ends.
func TestDaemonInProcess(t *testing.T) {
	st := labtest.Up(t, "a", "b")
	cfg, err := config.Load(filepath.Join(st.Dir, lab.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := lab.FreePort()
	cfg.Regions[1].Listen = fmt.Sprintf("127.0.0.1:%d", port)
	gwPort, _ := lab.FreePort() // the lab's regiond b serves the configured gateway port
	cfg.Regions[1].GatewayListen = fmt.Sprintf("127.0.0.1:%d", gwPort)
	cfg.Regions[1].DataDir = t.TempDir()
	// The lab's regiond b holds b's controller node; this one runs none.
	for i := range cfg.Regions {
		cfg.Regions[i].Controller = config.ControllerNode{}
	}
	cfg.Controller.Witness = nil
	d, err := regiond.New(regiond.Config{Deployment: cfg, Region: "b", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	tok := readFile(t, filepath.Join(st.Dir, lab.TokenFile))
	deadline := time.Now().Add(15 * time.Second)
	var s api.Status
	for time.Now().Before(deadline) && !s.Healthy {
		time.Sleep(100 * time.Millisecond)
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1/status", port), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
		}
	}
	if !s.Healthy {
		t.Errorf("in-process daemon never healthy: %+v", s)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
	}
}

// TestBadStart: regiond refuses to start on a bad config or region, and
// says why.
func TestBadStart(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../config/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(good), "127.0.0.1:3307", "127.0.0.1", 1)), 0o600)
	okPath := filepath.Join(dir, "ok.yaml")
	os.WriteFile(okPath, good, 0o600)
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--config", bad, "--region", "a"}, nil, "regions[1].mysql.dsn: missing port"},
		{[]string{"--config", okPath, "--region", "z"}, []string{"REGION_TOKEN=0123456789abcdef0123"}, `region "z" is not in the config`},
		{[]string{"--config", okPath, "--region", "a"}, nil, "environment variable REGION_TOKEN is not set"},
		{[]string{"--region", "a"}, nil, "--config and either --region or --witness are required"},
	}
	for _, tt := range tests {
		cmd := exec.Command(labtest.Bin().Regiond, tt.args...)
		cmd.Env = append(os.Environ(), tt.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("regiond %v: err=%v, output %q, want it to contain %q", tt.args, err, out, tt.want)
		}
	}
}
