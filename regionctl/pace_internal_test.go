package regionctl

import (
	"strings"
	"testing"
	"time"

	"github.com/regionplatform/region/cdc/apply"
)

func TestDonorBusy(t *testing.T) {
	links := []apply.LinkStatus{{From: "b", To: "a", LagSeconds: 0.2}, {From: "c", To: "a", LagSeconds: 12.5}}
	for _, c := range []struct {
		threads, maxThreads int
		links               []apply.LinkStatus
		maxLag              time.Duration
		want                string // "" or a substring of the reason
	}{
		{threads: 3, maxThreads: 25, links: links[:1], maxLag: 10 * time.Second, want: ""},
		{threads: 30, maxThreads: 25, want: "Threads_running 30 > 25"},
		{threads: 3, maxThreads: 25, links: links, maxLag: 10 * time.Second, want: "link c->a lags 12.5s > 10s"},
		{threads: 3, maxThreads: 25, links: links, maxLag: 0, want: ""}, // --max-lag 0: not checked
		{threads: 3, maxThreads: 25, links: links, maxLag: 20 * time.Second, want: ""},
	} {
		got := donorBusy(c.threads, c.maxThreads, c.links, c.maxLag)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("donorBusy(%d, %d, %v, %s) = %q, want %q", c.threads, c.maxThreads, c.links, c.maxLag, got, c.want)
		}
	}
}
