package failover

import (
	"strings"
	"testing"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/router/traffic"
)

// TestPromotionGuard: the guard's decision alone (the failover around it
// runs in the lab tests).
func TestPromotionGuard(t *testing.T) {
	req := api.FailoverRequest{From: "a", To: "b", Kind: "forced"}
	for _, tc := range []struct {
		name   string
		budget int64
		accept bool
		link   traffic.Link
		want   string // "" = go ahead
	}{
		{"within budget", 10, false, traffic.Link{AppliedGTID: "1-1-5", LagTxns: 10}, ""},
		{"over budget", 10, false, traffic.Link{AppliedGTID: "1-1-5", LagTxns: 11}, "still lacks 11 transactions of a after draining, over controller.rpo_budget 10"},
		{"over budget, accepted", 10, true, traffic.Link{AppliedGTID: "1-1-5", LagTxns: 11}, ""},
		{"unknown position", 10, false, traffic.Link{}, "cannot prove what it applied"},
		{"no budget", 0, false, traffic.Link{LagTxns: 1 << 40}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			r.AcceptRPO = tc.accept
			err := promotionGuard(tc.budget, r, tc.link)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--accept-rpo")):
				t.Errorf("got %v, want an error with %q naming --accept-rpo", err, tc.want)
			}
		})
	}
}
