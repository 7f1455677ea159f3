package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/regionplatform/region/api"
	"github.com/regionplatform/region/cdc/apply"
	"github.com/regionplatform/region/client"
	"github.com/regionplatform/region/lab"
)

// platform is the region platform's link from the lab's first region
// (source) to its second (target), watched through regiond's status API.
type platform struct {
	st       *lab.State
	src, dst lab.RegionState
	token    string
	client   *http.Client
}

// newPlatform watches the lab's first two regions.
func newPlatform(st *lab.State) (*platform, error) {
	if len(st.Regions) < 2 {
		return nil, errors.New("the lab needs two regions: start it with --regions a,b")
	}
	tok, err := lab.ReadToken(st.Dir)
	if err != nil {
		return nil, err
	}
	return &platform{st: st, src: st.Regions[0], dst: st.Regions[1], token: tok, client: &http.Client{Timeout: 15 * time.Second}}, nil
}

// api is a client of region r's regiond.
func (p *platform) api(r lab.RegionState) *client.Client {
	return &client.Client{BaseURL: r.APIURL(), Token: p.token, HTTP: p.client}
}

// pause pauses the link (regionctl link pause), as the native runs stop
// their replica's SQL thread: the applier stops where it is, and the
// source's capture keeps publishing to the source's Kafka.
func (p *platform) pause(ctx context.Context) error {
	_, err := p.api(p.dst).PauseLink(ctx, p.src.Name, api.PauseRequest{Reason: "regionctl bench replication: backlog phase"})
	return err
}

// resume resumes the link.
func (p *platform) resume(ctx context.Context) error {
	_, err := p.api(p.dst).ResumeLink(ctx, p.src.Name, api.PauseRequest{Reason: "regionctl bench replication: backlog drain"})
	return err
}

func (p *platform) partitions() int { return int(p.st.PartitionCount()) }

func (p *platform) ports() (int, int) { return p.src.MySQLPort, p.dst.MySQLPort }

func (p *platform) target() string { return "mysql-" + p.dst.Name }

func (p *platform) procs() map[string]int {
	out := map[string]int{"etcd": p.st.Etcd.Proc.Pid}
	for _, r := range []lab.RegionState{p.src, p.dst} {
		out["mysql-"+r.Name], out["broker-"+r.Name], out["regiond-"+r.Name] = r.MySQL.Pid, r.Broker.Pid, r.Regiond.Pid
	}
	return out
}

// status asks a region's regiond for its status.
func (p *platform) status(ctx context.Context, r lab.RegionState) (*api.Status, error) {
	return p.api(r).Status(ctx)
}

// link returns the target's inbound link from the source.
func (p *platform) link(ctx context.Context) (apply.LinkStatus, error) {
	s, err := p.status(ctx, p.dst)
	if err != nil {
		return apply.LinkStatus{}, err
	}
	for _, l := range s.Links {
		if l.From == p.src.Name {
			return l, nil
		}
	}
	return apply.LinkStatus{}, fmt.Errorf("regiond %s has no link from %s", p.dst.Name, p.src.Name)
}

func (p *platform) sample(ctx context.Context) (sample, error) {
	l, err := p.link(ctx)
	if err != nil {
		return sample{}, err
	}
	s := sample{applied: l.TxnsApplied, statusLag: &l.LagSeconds, lagTxns: &l.LagTxns}
	s.rssKB, s.hwmKB, _ = procMem(p.dst.Regiond.Pid)
	return s, nil
}

// caughtUp asks the target regiond to answer once the link has applied
// the source's GTID set pos (GET /v1/links/SOURCE/applied, a long poll
// that wakes on the link's commits); it answers at once while the link
// is not running.
func (p *platform) caughtUp(ctx context.Context, pos string, wait time.Duration) (bool, error) {
	v, err := p.api(p.dst).LinkApplied(ctx, p.src.Name, pos, wait)
	if err != nil {
		return false, err
	}
	return v.Covered, nil
}

// health fails when the link cannot catch up without help.
func (p *platform) health(ctx context.Context) error {
	l, err := p.link(ctx)
	if err != nil {
		return err
	}
	if l.State == "halted" || l.State == "failed" {
		return fmt.Errorf("link %s->%s is %s: %s (see %s)", l.From, l.To, l.State, l.Error, p.dst.Regiond.Log)
	}
	return nil
}

func (p *platform) describe(ctx context.Context) string {
	sa, err := p.status(ctx, p.src)
	if err != nil {
		return err.Error()
	}
	l, err := p.link(ctx)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("capture %s published seq %d pos %q; link %s->%s %s applied seq %d, lag %d txns",
		p.src.Name, sa.Capture.Published.Seq, sa.Capture.Published.Pos, l.From, l.To, l.State, l.AppliedSeq, l.LagTxns)
}

// procMem reads a process's resident set size and its peak (VmRSS and
// VmHWM, in kB) from /proc.
func procMem(pid int) (rss, hwm uint64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}
