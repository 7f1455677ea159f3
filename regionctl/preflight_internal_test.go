package regionctl

import (
	"context"
	"strings"
	"testing"

	"github.com/regionplatform/region/config"
	"github.com/regionplatform/region/preflight"
)

// TestPreflightWithoutRegiondsEtcdSecret: regionctl's identity is its API
// token, so an operator's machine may lack regiond's etcd password; the
// etcd check is then a warning that says where to run it, not a failure
// of etcd.
func TestPreflightWithoutRegiondsEtcdSecret(t *testing.T) {
	t.Setenv("REGION_TEST_ETCD_PASSWORD", "")
	cfg := &config.Config{Etcd: config.Etcd{Endpoints: []string{"127.0.0.1:1"}, Username: "regiond", PasswordEnv: "REGION_TEST_ETCD_PASSWORD", Prefix: "/region/"}}
	f := etcdFinding(context.Background(), cfg)
	if f.Severity != preflight.Warning || !strings.Contains(f.Got, "not checked") || !strings.Contains(f.Fix, "regiond host") {
		t.Fatalf("etcd finding without the secret: %+v", f)
	}
}
