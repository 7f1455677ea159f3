package drill

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the YAML tree itself (rather than yaml.Unmarshal) so that
// every problem carries its field path and the walk goes on after one.
type decoder struct {
	ps  Problems
	bad map[string]bool // paths that failed to decode
}

func (d *decoder) add(path, format string, args ...any) {
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[path] = true
	d.ps = append(d.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// fields checks that n is a mapping with only known keys and calls set for
// each key with its value node.
func (d *decoder) fields(n *yaml.Node, path string, known []string, set func(key string, v *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "(file)"
		}
		d.add(where, "is a %s, want a mapping of fields (%s)", kindName(n), strings.Join(known, ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		p := join(path, k)
		switch {
		case !slices.Contains(known, k):
			d.add(p, "unknown field (line %d): use one of %s", n.Content[i].Line, strings.Join(known, ", "))
		case seen[k]:
			d.add(p, "is set twice (line %d): keep one", n.Content[i].Line)
		default:
			seen[k] = true
			set(k, v, p)
		}
	}
}

func (d *decoder) plan(root *yaml.Node, p *Plan) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	known := []string{"name", "description", "scenario", "environment", "target", "schedule", "steps"}
	d.fields(n, "", known, func(k string, v *yaml.Node, path string) {
		switch k {
		case "name":
			p.Name = d.str(v, path)
		case "description":
			p.Description = d.str(v, path)
		case "scenario":
			p.Scenario = d.str(v, path)
		case "environment":
			p.Environment = d.str(v, path)
		case "schedule":
			p.Schedule = d.str(v, path)
		case "target":
			d.fields(v, path, []string{"mode"}, func(_ string, v *yaml.Node, path string) {
				p.Target.Mode = d.str(v, path)
			})
		case "steps":
			if v.Kind != yaml.SequenceNode {
				d.add(path, "is a %s, want a list of steps (- kind: precheck ...)", kindName(v))
				return
			}
			for i, sn := range v.Content {
				var s Step
				d.step(sn, fmt.Sprintf("steps[%d]", i), &s)
				p.Steps = append(p.Steps, s)
			}
		}
	})
}

func (d *decoder) step(n *yaml.Node, path string, s *Step) {
	known := []string{"kind", "region", "to", "duration", "criteria"}
	d.fields(n, path, known, func(k string, v *yaml.Node, path string) {
		switch k {
		case "kind":
			s.Kind = d.str(v, path)
		case "region":
			s.Region = d.str(v, path)
		case "to":
			s.To = d.str(v, path)
		case "duration":
			s.Duration = d.duration(v, path)
		case "criteria":
			known := []string{"max_lag", "checksums", "write_forbidden_max", "detection_max", "rto_max", "rpo_max"}
			c := &s.Criteria
			d.fields(v, path, known, func(k string, v *yaml.Node, path string) {
				switch k {
				case "max_lag":
					c.MaxLag = d.duration(v, path)
				case "checksums":
					c.Checksums = d.boolean(v, path)
				case "write_forbidden_max":
					c.WriteForbiddenMax = d.duration(v, path)
				case "detection_max":
					c.DetectionMax = d.duration(v, path)
				case "rto_max":
					c.RTOMax = d.duration(v, path)
				case "rpo_max":
					c.RPOMax = d.count(v, path)
				}
			})
		}
	})
}

func (d *decoder) str(v *yaml.Node, path string) string {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.add(path, "is a %s, want a string", kindName(v))
		return ""
	}
	return v.Value
}

func (d *decoder) duration(v *yaml.Node, path string) time.Duration {
	if v.Kind != yaml.ScalarNode {
		d.add(path, "is a %s, want a duration: write e.g. 10s", kindName(v))
		return 0
	}
	dur, err := time.ParseDuration(v.Value)
	if err != nil {
		if v.Value == "0" {
			return 0
		}
		d.add(path, "%q is not a duration: write e.g. 10s, 500ms or 2m", v.Value)
		return 0
	}
	if dur < 0 {
		d.add(path, "%q is negative: write a positive duration, e.g. 10s", v.Value)
		return 0
	}
	return dur
}

func (d *decoder) boolean(v *yaml.Node, path string) bool {
	b, err := strconv.ParseBool(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil {
		d.add(path, "%q is not a boolean: write true or false", v.Value)
		return false
	}
	return b
}

func (d *decoder) count(v *yaml.Node, path string) *int64 {
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if v.Kind != yaml.ScalarNode || err != nil {
		d.add(path, "%q is not a count of transactions: write a whole number, e.g. 0", v.Value)
		return nil
	}
	if n < 0 {
		d.add(path, "%d is negative: write 0 or more transactions", n)
		return nil
	}
	return &n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("value %q", n.Value)
	}
	return "node"
}
