package chaos_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/chaos"
	"github.com/regionplatform/region/lab"
	"github.com/regionplatform/region/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// envScenarios, when set, names the scenarios to run (comma separated);
// the default is all of them.
const envScenarios = "CHAOS_SCENARIOS"

// TestCatalogue runs every scenario briefly on one two-region lab (plus
// the controller's witness): the fault scenarios must keep every
// invariant, and each self-test must have its planted damage caught by
// exactly the invariant it breaks.
func TestCatalogue(t *testing.T) {
	names := os.Getenv(envScenarios)
	if names == "" {
		names = "all"
	}
	ss, err := chaos.Select(names)
	if err != nil {
		t.Fatal(err)
	}
	st := labtest.UpWith(t, lab.Options{WAN: true}, "a", "b")
	env, err := chaos.NewEnv(st, labtest.Bin(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	cfg := chaos.DefaultConfig()
	cfg.Duration, cfg.Users, cfg.Rate, cfg.Workers, cfg.SettleTimeout = 5*time.Second, 16, 30, 4, 90*time.Second
	cfg.Progress = testWriter{t}
	r, err := chaos.NewRunner(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := r.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	rep := r.RunAll(ctx, ss)
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	for _, res := range rep.Results {
		if !res.Pass {
			t.Errorf("scenario %s failed: %s", res.Scenario, res.Error)
		}
		if res.Writes[chaos.Acked] == 0 {
			t.Errorf("scenario %s: no write was acknowledged", res.Scenario)
		}
	}
	if len(rep.Results) != len(ss) {
		t.Errorf("%d of %d scenarios ran", len(rep.Results), len(ss))
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
