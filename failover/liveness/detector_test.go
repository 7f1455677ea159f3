package liveness

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	regions   = []string{"a", "b", "c"}
	observers = map[string]string{"ra": "a", "rb": "b", "rc": "c", "w": ""}
)

// obs describes one observer's view at a step: which regions it has lost
// (no regiond, no MySQL), which it sees without a regiond but with MySQL,
// and whether the view is stale.
type obs struct {
	name, region string
	down         string // regions lost entirely, e.g. "a" or "ac"
	noRegiond    string // regions whose regiond is gone but MySQL answers
	stale        bool
	// downFor, if set, is how long (seconds) the observer says it has
	// lost the regions in down (View.DownMS).
	downFor float64
}

type step struct {
	at   float64 // seconds from the start
	obs  []obs
	want []string // events as "kind region [observers]/of"
}

func view(now time.Time, o obs) View {
	v := View{Observer: o.name, Region: o.region, Alive: map[string]bool{}, MySQL: map[string]bool{}, ReceivedAt: now}
	for _, r := range regions {
		v.Alive[r] = !strings.Contains(o.down+o.noRegiond, r)
		v.MySQL[r] = !strings.Contains(o.down, r)
	}
	if o.downFor > 0 {
		v.DownMS = map[string]int64{}
		for _, r := range o.down {
			v.DownMS[string(r)] = int64(o.downFor * 1000)
		}
	}
	if o.stale {
		v.ReceivedAt = now.Add(-time.Hour)
	}
	return v
}

// four observers: one regiond per region and the witness.
func all(down map[string]string) []obs {
	out := []obs{{name: "ra", region: "a"}, {name: "rb", region: "b"}, {name: "rc", region: "c"}, {name: "w"}}
	for i := range out {
		out[i].down = down[out[i].name]
	}
	return out
}

// lostFor: rb, rc and w say they have lost a for secs.
func lostFor(secs float64) []obs {
	out := all(map[string]string{"rb": "a", "rc": "a", "w": "a"})
	for i := range out {
		if out[i].down != "" {
			out[i].downFor = secs
		}
	}
	return out
}

func TestDetector(t *testing.T) {
	lostA := map[string]string{"rb": "a", "rc": "a", "w": "a"}
	none := map[string]string{}
	tests := []struct {
		name  string
		steps []step
	}{
		{"majority for FailAfter declares failed", []step{
			{0, all(lostA), nil},
			{2.9, all(lostA), nil},
			{3, all(lostA), []string{"failed a [rb rc w]/3"}},
			{4, all(lostA), nil}, // once
		}},
		{"region's own observer does not count", []step{
			// ra (in a) sees a down; it is not one of the others.
			{0, all(map[string]string{"ra": "a", "w": "a"}), nil},
			{5, all(map[string]string{"ra": "a", "w": "a"}), nil},
		}},
		{"single observer never suffices", []step{
			{0, all(map[string]string{"w": "a"}), nil},
			{10, all(map[string]string{"w": "a"}), nil},
		}},
		{"silent observers count against", []step{
			{0, []obs{{name: "rb", region: "b"}, {name: "rc", region: "c"}, {name: "w"}}, nil},
			// rb and rc go silent (stale); only w has lost a.
			{1, []obs{{name: "rb", region: "b", stale: true}, {name: "rc", region: "c", stale: true}, {name: "w", down: "a"}}, nil},
			{10, []obs{{name: "rb", region: "b", stale: true}, {name: "rc", region: "c", stale: true}, {name: "w", down: "a"}}, nil},
		}},
		{"observers never heard from count against", []step{
			// Only w has ever reported (it started cut off): it is 1 of 3.
			{0, []obs{{name: "w", down: "abc"}}, nil},
			{10, []obs{{name: "w", down: "abc"}}, nil},
		}},
		{"views of unknown observers or of a false region are ignored", []step{
			{0, []obs{{name: "x", down: "a"}, {name: "y", down: "a"}, {name: "rb", region: "c", down: "a"}, {name: "w", down: "a"}}, nil},
			{10, []obs{{name: "x", down: "a"}, {name: "y", down: "a"}, {name: "rb", region: "c", down: "a"}, {name: "w", down: "a"}}, nil},
		}},
		{"MySQL still reachable: not failed", []step{
			{0, []obs{{name: "rb", region: "b", noRegiond: "a"}, {name: "rc", region: "c", noRegiond: "a"}, {name: "w", noRegiond: "a"}}, nil},
			{10, []obs{{name: "rb", region: "b", noRegiond: "a"}, {name: "rc", region: "c", noRegiond: "a"}, {name: "w", noRegiond: "a"}}, nil},
		}},
		{"two of three others suffice", []step{
			{0, all(map[string]string{"rb": "a", "w": "a"}), nil},
			{3, all(map[string]string{"rb": "a", "w": "a"}), []string{"failed a [rb w]/3"}},
		}},
		{"agreement must last FailAfter without a break", []step{
			{0, all(lostA), nil},
			{2, all(none), nil},
			{2.5, all(lostA), nil},
			{5, all(lostA), nil},
			{5.5, all(lostA), []string{"failed a [rb rc w]/3"}},
		}},
		{"isolated observer sees everyone lost: nothing declared", []step{
			// w is cut off: it has lost a, b and c; the others' views
			// reach it no more (stale), and its own view never reaches them.
			{0, all(none), nil},
			{1, []obs{{name: "ra", region: "a", stale: true}, {name: "rb", region: "b", stale: true}, {name: "rc", region: "c", stale: true}, {name: "w", down: "abc"}}, nil},
			{10, []obs{{name: "ra", region: "a", stale: true}, {name: "rb", region: "b", stale: true}, {name: "rc", region: "c", stale: true}, {name: "w", down: "abc"}}, nil},
		}},
		{"flapping is suppressed by the cooldown", []step{
			{0, all(lostA), nil},
			{3, all(lostA), []string{"failed a [rb rc w]/3"}},
			{10, all(none), []string{"returned a [rb rc w]/3"}},
			{11, all(lostA), nil},
			{14, all(lostA), []string{"suppressed a [rb rc w]/3"}},
			{15, all(lostA), nil}, // once per episode
			{20, all(none), nil},
			{21, all(lostA), nil},
			{24, all(lostA), []string{"suppressed a [rb rc w]/3"}},
			{62.9, all(lostA), nil},
			{63, all(lostA), []string{"failed a [rb rc w]/3"}}, // cooldown over
		}},
		{"observers' own loss counts, not the views' arrival", []step{
			{0, lostFor(2.5), nil},
			{0.5, lostFor(3), []string{"failed a [rb rc w]/3"}},
		}},
		{"a break the observer saw restarts the count", []step{
			{0, lostFor(2.9), nil},
			// The views between were lost: the observer says it lost a
			// again 0.2 s ago.
			{0.5, lostFor(0.2), nil},
			{3.2, lostFor(2.9), nil},
			{3.3, lostFor(3), []string{"failed a [rb rc w]/3"}},
		}},
		{"two regions at once: each judged by its own others", []step{
			{0, all(map[string]string{"rc": "ab", "w": "ab", "ra": "b", "rb": "a"}), nil},
			{3, all(map[string]string{"rc": "ab", "w": "ab", "ra": "b", "rb": "a"}), []string{"failed a [rb rc w]/3", "failed b [ra rc w]/3"}},
		}},
	}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDetector(DetectorConfig{FailAfter: 3 * time.Second, Cooldown: time.Minute, StaleAfter: 2 * time.Second}, regions, observers)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.steps {
				now := start.Add(time.Duration(s.at * float64(time.Second)))
				var views []View
				for _, o := range s.obs {
					views = append(views, view(now, o))
				}
				var got []string
				for _, e := range d.Observe(now, views) {
					got = append(got, fmt.Sprintf("%s %s %v/%d", e.Kind, e.Region, e.Observers, e.Of))
					if !e.At.Equal(now) {
						t.Errorf("event at %s, want %s", e.At, now)
					}
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("at %.1fs: events %q, want %q", s.at, got, s.want)
				}
			}
		})
	}
}

func TestDetectorStatus(t *testing.T) {
	d, err := NewDetector(DetectorConfig{FailAfter: time.Second, Cooldown: time.Minute, StaleAfter: time.Second}, regions, observers)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	views := []View{view(now, obs{name: "rb", region: "b", down: "a"}), view(now, obs{name: "w", down: "a"})}
	d.Observe(now, views)
	d.Observe(now.Add(time.Second), views)
	st := d.Status(now.Add(time.Second))
	if len(st) != 3 || !st[0].Failed || st[0].Region != "a" || !reflect.DeepEqual(st[0].Lost, []string{"rb", "w"}) || st[0].Of != 3 {
		t.Fatalf("status %+v", st)
	}
	if st[1].Failed || st[1].Of != 3 {
		t.Errorf("status of b %+v", st[1])
	}
}
