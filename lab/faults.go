package lab

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Components of a region that Kill and Start act on.
var Components = []string{"mysql", "broker", "app", "regiond"}

// Kill sends SIGKILL to one component of a region ("mysql", "broker",
// "app", "regiond", or "all"), or to the controller's "witness" or the
// lab's "etcd" (any region), as a crash would, and waits until it is gone.
func Kill(ctx context.Context, dir, region, component string) error {
	st, err := LoadState(dir)
	if err != nil {
		return err
	}
	procs, err := st.pick(region, component)
	if err != nil {
		return err
	}
	for _, n := range procs {
		if err := n.p.Kill(ctx); err != nil {
			return fmt.Errorf("kill %s: %w", n, err)
		}
	}
	return nil
}

// Start starts killed components of a region again ("all" for every one
// that is down; "witness" and "etcd" for those), with their ports and
// data, and waits until they answer.
func Start(ctx context.Context, opts Options, region, component string) error {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := LoadState(opts.Dir)
	if err != nil {
		return err
	}
	procs, err := st.pick(region, component)
	if err != nil {
		return err
	}
	maria, err := findMariaDB(opts.MariaDBDir)
	if err != nil {
		return err
	}
	r := &starter{st: st, out: opts.Progress, bin: opts.Bin, maria: maria}
	i := -1
	for j := range st.Regions {
		if st.Regions[j].Name == region {
			i = j
		}
	}
	// Dependencies first, regiond last: the order of Up.
	for _, name := range append([]string{"etcd"}, append(Components, "witness")...) {
		for _, n := range procs {
			if n.component != name || n.p.Alive() {
				continue
			}
			switch name {
			case "mysql":
				err = r.startMySQL(ctx, i)
			case "broker":
				err = r.startBroker(ctx, i)
			case "app":
				err = r.startApp(ctx, i)
			case "regiond":
				err = r.startRegiond(ctx, i)
			case "witness":
				err = r.startWitness(ctx)
			case "etcd":
				err = r.startEtcd(ctx)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// pick returns a region's processes named by component ("all" for every one).
func (s *State) pick(region, component string) ([]namedProc, error) {
	switch component {
	case "witness":
		return []namedProc{{"witness", "", &s.Witness.Proc}}, nil
	case "etcd":
		return []namedProc{{"etcd", "", &s.Etcd.Proc}}, nil
	}
	if _, ok := s.Region(region); !ok {
		return nil, fmt.Errorf("region %q is not in the lab in %s: it has %s", region, s.Dir, strings.Join(regionNames(s), ", "))
	}
	valid := component == "all"
	for _, c := range Components {
		valid = valid || c == component
	}
	if !valid {
		return nil, fmt.Errorf("component %q: use one of %s, or all", component, strings.Join(Components, ", "))
	}
	var out []namedProc
	for _, n := range s.procs() {
		if n.region == region && (component == "all" || n.component == component) {
			out = append(out, n)
		}
	}
	return out, nil
}

// ConfigPath is the lab's deployment config file.
func (s *State) ConfigPath() string { return filepath.Join(s.Dir, ConfigFile) }
