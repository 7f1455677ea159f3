package controller

import "fmt"

// BeginFailover (failover.begin) starts the record of a failover from one
// region to another. It is refused when the id is taken or when a failover
// involving either region is still in progress. A forced failover starts
// with its RPO pending.
type BeginFailover struct {
	Header
	ID     string `json:"id"`
	Kind   string `json:"kind"` // planned or forced
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	// AcceptRPO: the forced failover goes ahead whatever the promotion
	// guard says (kept so that a leader finishing it decides the same).
	AcceptRPO bool `json:"accept_rpo,omitempty"`
	// Undoes is the failover a failback undoes; empty otherwise.
	Undoes string `json:"undoes,omitempty"`
}

// Op implements Command.
func (*BeginFailover) Op() string { return OpFailoverBegin }

func (c *BeginFailover) check() error {
	if err := firstErr(checkName("id", c.ID), oneOf("kind", c.Kind, KindPlanned, KindForced),
		checkName("from", c.From), checkName("to", c.To), required("reason", c.Reason), checkTime("at", c.At)); err != nil {
		return err
	}
	if c.From == c.To {
		return fmt.Errorf("field \"to\": %q is also \"from\"", c.To)
	}
	if c.Undoes != "" {
		if err := checkName("undoes", c.Undoes); err != nil {
			return err
		}
		if c.Kind != KindPlanned {
			return fmt.Errorf("field \"undoes\": only a planned failover (a failback) undoes another")
		}
	}
	return nil
}

func (c *BeginFailover) apply(s *State) error {
	if _, ok := s.Failovers[c.ID]; ok {
		return fmt.Errorf("failover %q already exists", c.ID)
	}
	if u, ok := s.Failovers[c.Undoes]; c.Undoes != "" && (!ok || u.To != c.From || u.From != c.To) {
		return fmt.Errorf("field \"undoes\": %q is not a failover from %s to %s", c.Undoes, c.To, c.From)
	}
	for _, r := range []string{c.From, c.To} {
		if f, ok := s.ActiveFailover(r); ok {
			return fmt.Errorf("region %q is already in failover %q (%s)", r, f.ID, f.State)
		}
	}
	s.Failovers[c.ID] = FailoverRecord{
		ID: c.ID, Kind: c.Kind, From: c.From, To: c.To, State: FailoverStarted,
		Reason: c.Reason, Actor: c.Actor, StartedAt: c.At, UpdatedAt: c.At,
		RPO: RPO{Pending: c.Kind == KindForced}, AcceptRPO: c.AcceptRPO, Undoes: c.Undoes,
	}
	return nil
}

// StepFailover (failover.step) appends a step to a failover in progress
// and may update its RPO.
type StepFailover struct {
	Header
	ID     string `json:"id"`
	Step   string `json:"step"`
	Result string `json:"result"` // ok or failed
	Detail string `json:"detail,omitempty"`
	RPO    *RPO   `json:"rpo,omitempty"`
}

// Op implements Command.
func (*StepFailover) Op() string { return OpFailoverStep }

func (c *StepFailover) check() error {
	return firstErr(checkName("id", c.ID), required("step", c.Step), oneOf("result", c.Result, "ok", "failed"),
		checkTime("at", c.At), checkRPO(c.RPO))
}

func (c *StepFailover) apply(s *State) error {
	f, err := activeFailover(s, c.ID)
	if err != nil {
		return err
	}
	f.State, f.UpdatedAt = FailoverRunning, c.At
	f.Steps = append(append([]FailoverStep(nil), f.Steps...), FailoverStep{Name: c.Step, Result: c.Result, Detail: c.Detail, At: c.At})
	if c.RPO != nil {
		f.RPO = *c.RPO
	}
	s.Failovers[c.ID] = f
	return nil
}

// EndFailover (failover.end) closes a failover as done or rolled-back.
// Without an RPO the record keeps the last one reported, which for a forced
// failover stays "pending" until a later report fills it in.
type EndFailover struct {
	Header
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // done or rolled-back
	Reason  string `json:"reason,omitempty"`
	RPO     *RPO   `json:"rpo,omitempty"`
}

// Op implements Command.
func (*EndFailover) Op() string { return OpFailoverEnd }

func (c *EndFailover) check() error {
	return firstErr(checkName("id", c.ID), oneOf("outcome", c.Outcome, FailoverDone, FailoverRolledBack),
		checkTime("at", c.At), checkRPO(c.RPO))
}

func (c *EndFailover) apply(s *State) error {
	f, err := activeFailover(s, c.ID)
	if err != nil {
		return err
	}
	f.State, f.UpdatedAt, f.EndedAt = c.Outcome, c.At, c.At
	f.Steps = append([]FailoverStep(nil), f.Steps...)
	if c.RPO != nil {
		f.RPO = *c.RPO
	}
	s.Failovers[c.ID] = f
	return nil
}

func activeFailover(s *State, id string) (FailoverRecord, error) {
	f, ok := s.Failovers[id]
	if !ok {
		return f, fmt.Errorf("failover %q is not known", id)
	}
	if !f.Active() {
		return f, fmt.Errorf("failover %q has ended (%s)", id, f.State)
	}
	return f, nil
}

func checkRPO(r *RPO) error {
	if r == nil {
		return nil
	}
	if r.LostCount < 0 {
		return fmt.Errorf("field \"rpo.lost_count\": %d is negative", r.LostCount)
	}
	if r.Pending && (r.LostCount != 0 || r.LostGTIDs != "" || r.Uncounted != "") {
		return fmt.Errorf("field \"rpo.pending\": a pending RPO has no lost_count, lost_gtids or uncounted")
	}
	if !r.Pending && r.LastAppliedGTID == "" {
		return fmt.Errorf("field \"rpo.last_applied_gtid\" is required unless the RPO is pending")
	}
	if r.LostCount > 0 && r.LostGTIDs == "" {
		return fmt.Errorf("field \"rpo.lost_gtids\" is required when lost_count is %d", r.LostCount)
	}
	return nil
}

// CompleteRPO (failover.rpo) fills in the exact RPO of a forced failover
// that ended with its RPO pending (the failed region's binlog could not be
// read then). It is refused for a failover whose RPO is already known.
type CompleteRPO struct {
	Header
	ID  string `json:"id"`
	RPO RPO    `json:"rpo"`
}

// Op implements Command.
func (*CompleteRPO) Op() string { return OpFailoverRPO }

func (c *CompleteRPO) check() error {
	if err := firstErr(checkName("id", c.ID), checkTime("at", c.At), checkRPO(&c.RPO)); err != nil {
		return err
	}
	if c.RPO.Pending {
		return fmt.Errorf("field \"rpo.pending\": completing an RPO means it is known: pending must be false")
	}
	return nil
}

func (c *CompleteRPO) apply(s *State) error {
	f, ok := s.Failovers[c.ID]
	switch {
	case !ok:
		return fmt.Errorf("failover %q is not known", c.ID)
	case !f.RPO.Pending:
		return fmt.Errorf("failover %q has its RPO already (%d lost)", c.ID, f.RPO.LostCount)
	}
	f.RPO, f.UpdatedAt = c.RPO, c.At
	detail := fmt.Sprintf("%d transactions lost: %s", c.RPO.LostCount, c.RPO.LostGTIDs)
	if c.RPO.Uncounted != "" {
		detail += "; and uncounted: " + c.RPO.Uncounted
	}
	f.Steps = append(append([]FailoverStep(nil), f.Steps...), FailoverStep{Name: "rpo", Result: "ok", Detail: detail, At: c.At})
	s.Failovers[c.ID] = f
	return nil
}
