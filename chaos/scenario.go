package chaos

import (
	"fmt"
	"sort"
	"strings"
)

// Scenario is a named run: a workload for a while, faults injected and
// healed in the middle of it, then the checks. A self-test scenario also
// breaks one invariant on purpose after the load (Break) and passes only
// when the checker catches exactly that.
type Scenario struct {
	Name string
	Doc  string
	// Faults builds the scenario's faults (fresh for every run).
	Faults func() []Fault
	// Break, for a self-test, damages the data after the load; Expect
	// names the invariant that must then count exactly one violation.
	Break  Breaker
	Expect string
	// Last: the scenario leaves the lab unfit for more (a halted link);
	// the runner runs it after every other one.
	Last bool
}

func faults(fs ...Fault) func() []Fault {
	return func() []Fault { return fs }
}

// Catalogue returns every scenario, in run order, self-tests included.
func Catalogue() []Scenario {
	return []Scenario{
		{Name: "baseline", Doc: "load only, no fault", Faults: faults()},
		{Name: "selftest-lost-write", Doc: "checker self-test: an acknowledged write deleted in every region (sql_log_bin=0)",
			Faults: faults(), Break: loseWrite, Expect: InvLost},
		{Name: "selftest-duplicate-apply", Doc: "checker self-test: an acknowledged write's effect applied again in every region",
			Faults: faults(), Break: applyTwice, Expect: InvDuplicate},
		{Name: "selftest-manual-update", Doc: "checker self-test: a manual UPDATE in one region only (sql_log_bin=0)",
			Faults: faults(), Break: manualUpdate, Expect: InvIdentical},
		{Name: "kill-mysql", Doc: "SIGKILL a region's MariaDB, start it again",
			Faults: func() []Fault { return []Fault{&Kill{Component: "mysql"}} }},
		{Name: "kill-regiond", Doc: "SIGKILL a region's regiond (capture, appliers, gateway), start it again",
			Faults: func() []Fault { return []Fault{&Kill{Component: "regiond"}} }},
		{Name: "kill-broker", Doc: "SIGKILL a region's Kafka broker, start it again",
			Faults: func() []Fault { return []Fault{&Kill{Component: "broker"}} }},
		{Name: "kill-etcd", Doc: "SIGKILL etcd (routing table, fences), start it again",
			Faults: func() []Fault { return []Fault{&Kill{Component: "etcd"}} }},
		{Name: "kill-app", Doc: "SIGKILL a region's application, start it again",
			Faults: func() []Fault { return []Fault{&Kill{Component: "app"}} }},
		{Name: "duplicate-delivery", Doc: "kill a link's target and re-send the last messages of its source's topic",
			Faults: func() []Fault { return []Fault{&Duplicate{}} }},
		{Name: "leader-loss", Doc: "kill the failover controller's Raft leader",
			Faults: func() []Fault { return []Fault{&LeaderLoss{}} }},
		{Name: "switch-under-load", Doc: "traffic switch of some users' buckets to another cell and back",
			Faults: func() []Fault { return []Fault{&Switch{}} }},
		{Name: "planned-failover", Doc: "planned failover of a region under load, then failback",
			Faults: func() []Fault { return []Fault{&Failover{}} }},
		{Name: "forced-failover-drained", Doc: "a region's app and jobs stop, their last writes drain to the survivors, then the whole region is killed and forced over (RPO 0), restarted, failed back",
			Faults: func() []Fault { return []Fault{&Failover{Forced: true, Drain: true}} }},
		{Name: "forced-failover", Doc: "kill a whole region, force its cells over (RPO reported), restart, fail back",
			Faults: func() []Fault { return []Fault{&Failover{Forced: true}} }},
		{Name: "forced-failover-leader-crash", Doc: "kill a whole region and force it over; the controller's leader crashes after holding the region, before moving its buckets, restarts and finishes the failover; restart the region, fail back",
			Faults: func() []Fault { return []Fault{&Failover{Forced: true, LeaderCrash: true}} }},
		{Name: "wan-latency", Doc: "50-200 ms WAN latency (20 ms jitter) on MySQL, Kafka and API paths between two regions",
			Faults: func() []Fault { return []Fault{&Net{Kind: NetLatency}} }},
		{Name: "wan-bandwidth", Doc: "replication between two regions limited to 32 KB/s each way",
			Faults: func() []Fault { return []Fault{&Net{Kind: NetBandwidth}} }},
		{Name: "wan-reset", Doc: "every cross-region connection between two regions reset while the fault lasts",
			Faults: func() []Fault { return []Fault{&Net{Kind: NetReset}} }},
		{Name: "wan-partition", Doc: "two regions cut off from each other on every path, gossip included (the witness still sees both: no failover), then healed",
			Faults: func() []Fault { return []Fault{&Net{Kind: NetPartition}} }},
		{Name: "poison-message", Doc: "an unreadable message in a topic: its partition halts loudly, applies nothing after it (the link stays halted: no skip exists)",
			Faults: func() []Fault { return []Fault{&Poison{}} }, Last: true},
	}
}

// Select returns the scenarios named in a comma-separated list ("all":
// every one), the ones that leave the lab unfit last.
func Select(names string) ([]Scenario, error) {
	all := Catalogue()
	var out []Scenario
	if names == "all" {
		out = all
	} else {
		byName := map[string]Scenario{}
		for _, s := range all {
			byName[s.Name] = s
		}
		for _, n := range strings.Split(names, ",") {
			s, ok := byName[strings.TrimSpace(n)]
			if !ok {
				return nil, fmt.Errorf("scenario %q: not in the catalogue; `regionctl chaos list` shows them", n)
			}
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return !out[i].Last && out[j].Last })
	return out, nil
}
