package drill

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExamplePlansParse(t *testing.T) {
	for _, tc := range []struct {
		file, env, mode string
	}{
		{"monthly.yaml", EnvLab, ModeKill},
		{"monthly-production.yaml", EnvProduction, ModeFence},
	} {
		if tc.file == "rebuild.yaml" {
			continue
		}
		t.Run(tc.file, func(t *testing.T) {
			p, err := LoadPlan(filepath.Join("..", "..", "deploy", "drills", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if p.Environment != tc.env || p.Target.Mode != tc.mode {
				t.Errorf("environment %q mode %q, want %q %q", p.Environment, p.Target.Mode, tc.env, tc.mode)
			}
			if len(p.Steps) != 7 || p.Steps[0].Kind != KindPrecheck || p.Steps[4].Kind != KindFailover {
				t.Errorf("steps %+v", p.Steps)
			}
			if p.Steps[4].Criteria.RTOMax != 30*time.Second || *p.Steps[4].Criteria.RPOMax != 100 {
				t.Errorf("failover criteria %+v", p.Steps[4].Criteria)
			}
		})
	}
}

const goodPlan = `
name: t
environment: lab
target: {mode: fence}
steps:
  - kind: precheck
    criteria: {max_lag: 5s, checksums: true}
  - kind: failover
    region: b
    criteria: {rto_max: 30s, rpo_max: 10}
`

// TestParsePlanProblems checks that every problem is reported at once,
// with its path and its fix.
// TestRebuildPlanParses: the example rebuild drill is valid, its rebuild
// step between b's failover and failback.
func TestRebuildPlanParses(t *testing.T) {
	p, err := LoadPlan(filepath.Join("..", "..", "deploy", "drills", "rebuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Steps[2]; s.Kind != KindRebuild || s.Region != "b" || s.Donor != "a" || s.Criteria.CopyMax != 10*time.Minute {
		t.Errorf("rebuild step %+v", s)
	}
}

func TestParsePlanProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each a substring of one problem, in order
	}{
		{"good", goodPlan, nil},
		{"detection in fence mode", strings.Replace(goodPlan, "{rto_max", "{detection_max: 10s, rto_max", 1),
			[]string{"steps[1].criteria.detection_max: a fence-mode drill injects no fault"}},
		{"empty", "", []string{"(file): is empty"}},
		{"not yaml", "name: [", []string{"(file): is not valid YAML"}},
		{"not a mapping", "- a", []string{"(file): is a list, want a mapping"}},
		{"missing everything", "description: x", []string{
			"name: is missing", "environment: is missing: write lab or production",
			"target.mode: is missing", "steps: is empty"}},
		{"kill in production", strings.Replace(strings.Replace(goodPlan, "lab", "production", 1), "fence", "kill", 1),
			[]string{"target.mode: kill is not allowed in production"}},
		{"unknown fields everywhere", `
name: t
colour: red
environment: lab
target: {mode: fence, region: b}
steps:
  - kind: wait
    duration: 5s
    timeout: 3s
  - kind: postcheck
    criteria: {max_lagg: 5s}
`, []string{`colour: unknown field (line 3): use one of name, description`,
			`target.region: unknown field (line 5): use one of mode`,
			`steps[0].timeout: unknown field (line 9): use one of kind, region, to, donor, duration, criteria`,
			`steps[1].criteria.max_lagg: unknown field (line 11): did you mean max_lag?`}},
		{"wrong kinds, twice, negatives", `
name: t
environment: lab
environment: lab
target: fence
steps:
  - kind: wait
    duration: -5s
  - Kind: precheck
  - kind: failover
    region: b
    criteria: {rto_max: 0, rpo_max: 0, detection_max: [1s]}
  - kind: postcheck
    criteria: {max_lag: -1s}
`, []string{"environment: is set twice (lines 3 and 4): keep one",
			`target: is a value "fence", want a mapping of fields (mode)`,
			"steps[1].Kind: unknown field (line 9): did you mean kind?",
			"steps[2].criteria.detection_max: is a list, want a duration",
			"steps[0].duration: -5s is negative: write how long to wait",
			"steps[1].kind: is missing",
			"steps[3].criteria.max_lag: -1s is negative: write a positive duration",
		}},
		{"rebuild in fence mode", goodPlan + "  - kind: rebuild\n    region: b\n    donor: a\n",
			[]string{"steps[2].kind: a rebuild replaces the region's tables while its regiond is stopped, which only a kill-mode drill does"}},
		{"rebuild steps wrong", `
name: t
environment: lab
target: {mode: kill}
steps:
  - kind: rebuild
    region: b
    donor: a
  - kind: failover
    region: b
    donor: a
  - kind: rebuild
    region: b
  - kind: rebuild
    region: b
    donor: b
  - kind: failover
    region: a
  - kind: rebuild
    region: b
    donor: a
    criteria: {copy_max: -1s, rto_max: 1s}
`, []string{"steps[0].region: region b is not failed over at this step: put the rebuild after its failover step",
			"steps[1].donor: does not apply to a failover step",
			"steps[2].donor: is missing: name the region to copy b's tables from",
			"steps[3].donor: is the region itself",
			"steps[5].criteria.rto_max: does not apply to a rebuild step: use copy_max",
			"steps[5].criteria.copy_max: -1s is negative",
			"steps[5].donor: region a is failed over at this step: copy from a region that is up"}},
		{"steps not a list", "name: t\nenvironment: lab\ntarget: {mode: fence}\nsteps: {kind: precheck}\n",
			[]string{"steps: is a mapping, want a list"}},
		{"bad values all at once", `
name: Monthly Drill
environment: staging
target: {mode: nuke}
schedule: "0 3 * *"
steps:
  - kind: precheck
    criteria: {max_lag: soon, checksums: maybe}
  - kind: switchover
    criteria: {write_forbidden_max: 2s, rpo_max: 3}
  - kind: failover
    region: b
    to: b
    criteria: {rto_max: "ten seconds", rpo_max: -1, max_lag: 1s}
  - kind: wait
    duration: 2h
  - kind: reboot
`, []string{
			`steps[0].criteria.max_lag: "soon" is not a duration: write e.g. 10s`,
			`steps[0].criteria.checksums: "maybe" is not a boolean: write true or false`,
			`steps[2].criteria.rto_max: "ten seconds" is not a duration: write e.g. 10s`,
			`name: "Monthly Drill" is not a name`,
			`environment: "staging" is not an environment`,
			`target.mode: "nuke" is not a mode`,
			`schedule: "0 3 * *" has 4 fields, want 5`,
			`steps[1].region: is missing: name the region to switchover`,
			`steps[1].criteria.rpo_max: is 3, but a planned switchover loses nothing: write 0`,
			`steps[2].criteria.max_lag: does not apply to a failover step: use detection_max, rto_max, rpo_max`,
			`steps[2].criteria.rpo_max: -1 is negative`,
			`steps[2].to: is the region itself`,
			`steps[3].duration: 2h0m0s is longer than 30m0s`,
			`steps[4].kind: "reboot" is not a step kind`,
		}},
		{"wait without duration, criteria on wait", `
name: w
environment: lab
target: {mode: kill}
steps:
  - kind: wait
    criteria: {rto_max: 1s}
  - kind: precheck
    region: a
    duration: 1s
`, []string{"steps[0].criteria.rto_max: a wait step has no criteria", "steps[0].duration: is missing",
			"steps[1].region: does not apply to a precheck step", "steps[1].duration: applies to wait steps only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePlan([]byte(tc.yaml))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Steps[1].Criteria.RTOMax != 30*time.Second {
					t.Errorf("rto_max = %v", p.Steps[1].Criteria.RTOMax)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			if len(ps) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ps), len(tc.want), err)
			}
			for i, w := range tc.want {
				if i < len(ps) && !strings.Contains(ps[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ps[i], w)
				}
			}
		})
	}
}
