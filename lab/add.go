package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// AddRegion adds region name to the running lab in opts.Dir, as an
// operator prepares a region before regionctl region add: its servers
// start on new ports (an empty MySQL, read-only; a broker with its
// topic; the app), the config gets the region and its cell (owning no
// bucket; standby on the lab's first region), and every other regiond
// and the witness restart on the new config one at a time, each waiting
// until the one before answers again (a regiond adds the new region and
// cell to the routing table as it starts). The new region's regiond is
// not started: regionctl region add fills its MySQL first, and then
// Start(name, "regiond") runs it with --join (RegionState.Joined).
func AddRegion(ctx context.Context, opts Options, name string) (*State, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Timeout == 0 {
		opts.Timeout = 120 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := LoadState(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := st.canAdd(name); err != nil {
		return nil, err
	}
	maria, err := findMariaDB(opts.MariaDBDir)
	if err != nil {
		return nil, err
	}
	var p [7]int
	picker := portPicker{}
	for i := range p {
		if p[i], err = picker.pick(); err != nil {
			return nil, err
		}
	}
	st.Regions = append(st.Regions, RegionState{Name: name, Joined: true,
		MySQLPort: p[0], KafkaPort: p[1], APIPort: p[2], AppPort: p[3], GatewayPort: p[4], RaftPort: p[5], GossipPort: p[6]})
	if _, err := writeConfig(st); err != nil {
		return nil, err
	}
	if err := st.save(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &starter{st: st, out: opts.Progress, bin: opts.Bin, maria: maria}
	i := len(st.Regions) - 1
	if err := parallel(ctx, []func(context.Context) error{
		func(ctx context.Context) error { return r.startBroker(ctx, i) },
		func(ctx context.Context) error { return r.startMySQL(ctx, i) },
	}); err != nil {
		return nil, err
	}
	if err := r.startApp(ctx, i); err != nil {
		return nil, err
	}
	// One at a time, so that every other region keeps its gateway and
	// the controller its majority.
	for j := range st.Regions[:i] {
		if err := r.restartRegiond(ctx, j); err != nil {
			return nil, err
		}
	}
	w := &st.Witness
	if err := w.Proc.Stop(ctx, 20*time.Second); err != nil {
		return nil, fmt.Errorf("restart the witness: %w", err)
	}
	if err := r.startWitness(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Progress, "region %s added to the lab's config in %s; its regiond is not started: fill it with regionctl region add %s --donor %s, then start it\n",
		name, time.Since(start).Round(10*time.Millisecond), name, st.Regions[0].Name)
	return st, nil
}

// canAdd says why region name cannot be added to the lab, if it cannot.
func (s *State) canAdd(name string) error {
	if !regionNameRE.MatchString(name) {
		return fmt.Errorf("region name %q: use lower-case letters, digits and '-', starting with a letter", name)
	}
	if _, ok := s.Region(name); ok {
		return fmt.Errorf("the lab in %s has region %s already", s.Dir, name)
	}
	if s.WAN != nil {
		return errors.New("adding a region to a lab with the wan component is not built: its relays are planned when the lab is made")
	}
	if len(s.Regions)+1 > s.autoIncrement() {
		return fmt.Errorf("the lab's servers interleave auto-increment values for %d regions: it cannot have %d (a new lab of fewer than %d regions can grow to %d)", s.autoIncrement(), len(s.Regions)+1, MaxRegions, MaxRegions)
	}
	var down []string
	for _, n := range s.procs() {
		if !n.p.Alive() {
			down = append(down, n.String())
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("the lab in %s is not running (%s down): start it with regionctl lab up, then add the region", s.Dir, strings.Join(down, ", "))
	}
	return nil
}

// restartRegiond stops region i's regiond (SIGTERM) and starts it again,
// waiting until it has loaded the routing table.
func (r *starter) restartRegiond(ctx context.Context, i int) error {
	reg := &r.st.Regions[i]
	if err := reg.Regiond.Stop(ctx, 20*time.Second); err != nil {
		return fmt.Errorf("restart regiond %s: %w", reg.Name, err)
	}
	if err := r.startRegiond(ctx, i); err != nil {
		return err
	}
	return waitReady(ctx, "regiond "+reg.Name, reg.Regiond, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", reg.APIPort), "")
	})
}
