package drill

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/regionplatform/region/controller"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// criteria each step kind accepts, in the order the docs list them.
var allowed = map[string][]string{
	KindPrecheck:   {"max_lag", "checksums"},
	KindPostcheck:  {"max_lag", "checksums"},
	KindSwitchover: {"write_forbidden_max", "rpo_max"},
	KindFailover:   {"detection_max", "rto_max", "rpo_max"},
	KindFailback:   {"rto_max", "write_forbidden_max"},
	KindWait:       {},
	KindRebuild:    {"copy_max"},
}

// problems checks the decoded plan's values and their combinations.
func (p *Plan) problems() Problems {
	var v validator
	if p.Name == "" {
		v.add("name", "is missing: name the plan, e.g. monthly")
	} else if !nameRE.MatchString(p.Name) {
		v.add("name", "%q is not a name: use lower-case letters, digits, '.', '_' and '-' (at most 63)", p.Name)
	}
	switch p.Environment {
	case EnvLab, EnvProduction:
	case "":
		v.add("environment", "is missing: write lab or production")
	default:
		v.add("environment", "%q is not an environment: write lab or production", p.Environment)
	}
	switch p.Target.Mode {
	case ModeFence:
	case ModeKill:
		if p.Environment == EnvProduction {
			v.add("target.mode", "kill is not allowed in production (it really kills the region's processes): write fence")
		}
	case "":
		v.add("target.mode", "is missing: write fence (or kill, in the lab only)")
	default:
		v.add("target.mode", "%q is not a mode: write fence (or kill, in the lab only)", p.Target.Mode)
	}
	if p.Schedule != "" {
		if err := controller.CheckCron(p.Schedule); err != nil {
			v.add("schedule", "%v", err)
		}
	}
	if len(p.Steps) == 0 {
		v.add("steps", "is empty: list at least a precheck and the switchover or failover to drill")
	}
	failedOver := map[string]bool{} // by a failover step, not failed back yet
	for i, s := range p.Steps {
		s.check(&v, fmt.Sprintf("steps[%d]", i))
		switch s.Kind {
		case KindFailover:
			failedOver[s.Region] = true
		case KindFailback:
			delete(failedOver, s.Region)
		case KindRebuild:
			switch {
			case p.Target.Mode != ModeKill:
				v.add(fmt.Sprintf("steps[%d].kind", i), "a rebuild replaces the region's tables while its regiond is stopped, which only a kill-mode drill does (in the lab): remove it, or seed tables by hand (regionctl seed)")
			case s.Region != "" && !failedOver[s.Region]:
				v.add(fmt.Sprintf("steps[%d].region", i), "region %s is not failed over at this step: put the rebuild after its failover step and before its failback", s.Region)
			case s.Donor != "" && s.Donor != s.Region && failedOver[s.Donor]:
				v.add(fmt.Sprintf("steps[%d].donor", i), "region %s is failed over at this step: copy from a region that is up", s.Donor)
			}
		}
		if p.Target.Mode == ModeFence && s.Criteria.DetectionMax != 0 {
			v.add(fmt.Sprintf("steps[%d].criteria.detection_max", i), "a fence-mode drill injects no fault, so nothing is detected: remove it (detection is measured in kill mode, in the lab)")
		}
	}
	return v.ps
}

func (s Step) check(v *validator, path string) {
	crit, ok := allowed[s.Kind]
	if !ok {
		if s.Kind == "" {
			v.add(path+".kind", "is missing: write one of precheck, switchover, failover, rebuild, failback, postcheck, wait")
		} else {
			v.add(path+".kind", "%q is not a step kind: write one of precheck, switchover, failover, rebuild, failback, postcheck, wait", s.Kind)
		}
		return
	}
	set := s.Criteria.set()
	for _, name := range set {
		if !slices.Contains(crit, name) {
			if len(crit) == 0 {
				v.add(path+".criteria."+name, "a %s step has no criteria: remove it", s.Kind)
			} else {
				v.add(path+".criteria."+name, "does not apply to a %s step: use %s", s.Kind, strings.Join(crit, ", "))
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_lag", s.Criteria.MaxLag}, {"write_forbidden_max", s.Criteria.WriteForbiddenMax}, {"detection_max", s.Criteria.DetectionMax}, {"rto_max", s.Criteria.RTOMax}, {"copy_max", s.Criteria.CopyMax}} {
		if d.v < 0 {
			v.add(path+".criteria."+d.name, "%s is negative: write a positive duration, e.g. 10s", d.v)
		}
	}
	if n := s.Criteria.RPOMax; n != nil && *n < 0 {
		v.add(path+".criteria.rpo_max", "%d is negative: write 0 or more transactions", *n)
	}
	needsRegion := s.Kind == KindSwitchover || s.Kind == KindFailover || s.Kind == KindFailback || s.Kind == KindRebuild
	switch {
	case needsRegion && s.Region == "":
		v.add(path+".region", "is missing: name the region to %s", s.Kind)
	case !needsRegion && s.Region != "":
		v.add(path+".region", "does not apply to a %s step: remove it", s.Kind)
	}
	if s.To != "" {
		switch {
		case s.Kind != KindSwitchover && s.Kind != KindFailover:
			v.add(path+".to", "does not apply to a %s step: remove it", s.Kind)
		case s.To == s.Region:
			v.add(path+".to", "is the region itself (%q): name another region, or leave it out to use each cell's standby", s.To)
		}
	}
	switch {
	case s.Kind == KindRebuild && s.Donor == "":
		v.add(path+".donor", "is missing: name the region to copy %s's tables from", s.Region)
	case s.Kind == KindRebuild && s.Donor == s.Region:
		v.add(path+".donor", "is the region itself (%q): name a region that kept its data", s.Donor)
	case s.Kind != KindRebuild && s.Donor != "":
		v.add(path+".donor", "does not apply to a %s step: remove it", s.Kind)
	}
	if s.Kind == KindWait {
		switch {
		case s.Duration < 0:
			v.add(path+".duration", "%s is negative: write how long to wait, e.g. 30s", s.Duration)
		case s.Duration == 0:
			v.add(path+".duration", "is missing: write how long to wait, e.g. 30s")
		case s.Duration > MaxWait:
			v.add(path+".duration", "%s is longer than %s: wait less, or split the drill", s.Duration, MaxWait)
		}
	} else if s.Duration != 0 {
		v.add(path+".duration", "applies to wait steps only: remove it")
	}
	if s.Kind == KindSwitchover && s.Criteria.RPOMax != nil && *s.Criteria.RPOMax > 0 {
		v.add(path+".criteria.rpo_max", "is %d, but a planned switchover loses nothing: write 0", *s.Criteria.RPOMax)
	}
}

// set lists the criteria given (non-zero).
func (c Criteria) set() []string {
	var out []string
	add := func(name string, on bool) {
		if on {
			out = append(out, name)
		}
	}
	add("max_lag", c.MaxLag != 0)
	add("checksums", c.Checksums)
	add("write_forbidden_max", c.WriteForbiddenMax != 0)
	add("detection_max", c.DetectionMax != 0)
	add("rto_max", c.RTOMax != 0)
	add("rpo_max", c.RPOMax != nil)
	add("copy_max", c.CopyMax != 0)
	return out
}

type validator struct{ ps Problems }

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fmtDur renders a duration for reports: "850ms", "3.2s", "2m5s".
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}
