package chaos

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/regionplatform/region/lab"
)

// Fault is one thing that goes wrong during a scenario's load. Inject
// starts it (a third into the load), Heal ends it (two thirds in): a
// killed process is started again, a switched bucket range goes home.
// A network fault (latency, partition between regions) is one more
// implementation. Faults are called from the scenario's goroutine; e.Rand
// picks their targets, so a seed repeats them.
type Fault interface {
	Inject(ctx context.Context, e *Env) error
	Heal(ctx context.Context, e *Env) error
	// String says what the fault did, with its targets once injected.
	String() string
}

// Verifier is a fault that checks something of its own after the
// scenario converged (a poison message: the halt was loud, nothing
// after it was applied).
type Verifier interface {
	Verify(ctx context.Context, e *Env, h []Write) Count
}

// Kill sends SIGKILL to a component ("mysql", "broker", "regiond",
// "app", "all", or the lab's "etcd" or "witness") of Region (empty: one
// picked by the seed) and starts it again on Heal.
type Kill struct {
	Component string
	Region    string

	picked string
}

var _ Fault = (*Kill)(nil)

func (k *Kill) String() string {
	if k.Component == "etcd" || k.Component == "witness" {
		return "SIGKILL " + k.Component
	}
	r := k.picked
	if r == "" {
		r = k.Region
	}
	return fmt.Sprintf("SIGKILL %s of region %s", k.Component, r)
}

// Inject kills the component.
func (k *Kill) Inject(ctx context.Context, e *Env) error {
	k.picked = k.Region
	if k.picked == "" {
		k.picked = e.St.Regions[e.Rand.IntN(len(e.St.Regions))].Name
	}
	return lab.Kill(ctx, e.St.Dir, k.picked, k.Component)
}

// Heal starts it again with its ports and data.
func (k *Kill) Heal(ctx context.Context, e *Env) error {
	return e.start(ctx, k.picked, k.Component)
}

// start starts a lab component again, bounded.
func (e *Env) start(ctx context.Context, region, component string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := lab.Start(ctx, lab.Options{Dir: e.St.Dir, Bin: e.Bin, Progress: io.Discard}, region, component); err != nil {
		return fmt.Errorf("start %s of region %s again: %w", component, region, err)
	}
	return e.reload()
}

// reload reads the lab's state again (restarted processes have new pids).
func (e *Env) reload() error {
	st, err := lab.LoadState(e.St.Dir)
	if err != nil {
		return err
	}
	*e.St = *st
	return nil
}
