package controller

import "fmt"

// ReadOnly says whether region's MySQL should be read-only for the
// application, as the state says, ownsBuckets being whether the routing
// table gives any bucket to a cell of the region: while the region is
// fenced (a forced failover), and after a failover out of it until a
// failback undoing it starts or buckets are moved into the region again
// (a switch, or a failover to it). decided is false while a planned
// failover out of the region runs: its switch sets read_only once the
// routers honour its fence (the region serves until then), and nothing
// may lift it before the failover ends. why says what makes it read-only.
// A failover that rolled back leaves the region writable.
func (s *State) ReadOnly(region string, ownsBuckets bool) (readOnly, decided bool, why string) {
	if r := s.Regions[region]; r.Fenced {
		return true, true, fmt.Sprintf("region %s is fenced: %s", region, r.FenceReason)
	}
	var last *FailoverRecord
	for id := range s.Failovers {
		f := s.Failovers[id]
		if f.From != region || f.Undoes != "" || f.State == FailoverRolledBack {
			continue
		}
		if last == nil || f.StartedAt.After(last.StartedAt) {
			last = &f
		}
	}
	if last == nil {
		return false, true, ""
	}
	for _, g := range s.Failovers {
		if g.Undoes == last.ID && g.State != FailoverRolledBack {
			return false, true, ""
		}
	}
	switch {
	case last.Active() && last.Kind == KindPlanned:
		return false, false, ""
	case last.Active():
		return true, true, fmt.Sprintf("region %s is being failed over to %s by %s (%s)", region, last.To, last.ID, last.Kind)
	case ownsBuckets:
		return false, true, ""
	}
	return true, true, fmt.Sprintf("region %s was failed over to %s by %s (%s) and owns no buckets: fail back, or switch buckets to it, to take writes", region, last.To, last.ID, last.Kind)
}
