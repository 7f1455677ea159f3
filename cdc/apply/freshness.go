package apply

import "time"

// Freshness is how far a link has applied, as a read of the target
// region that must not be too old needs it (router/gateway's read
// levels): what Status reports, without asking etcd, cheap enough for
// every read.
type Freshness struct {
	// Running: every partition of the link applies what arrives (not
	// halted, held, paused or starting).
	Running bool
	// AppliedGTID is the source GTID set every transaction of which is
	// applied (the link's low watermark).
	AppliedGTID string
	// Sent is the oldest of the partitions' last applied messages' send
	// times (capture's clock): every transaction the source had published
	// before then is applied. Idle partitions get a heartbeat at least
	// every capture idle heartbeat (2 s), so Sent is at most that old on
	// a link that keeps up.
	Sent time.Time
}

// Freshness reports the link's low watermark.
func (a *Applier) Freshness() Freshness {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := Freshness{Running: a.state == StateRunning && a.pause == nil && a.nparts > 0 && len(a.parts) >= a.nparts}
	var low uint64
	first := true
	for _, ps := range a.parts {
		if ps.State == StateHalted || ps.State == StateHeld {
			f.Running = false
		}
		if first || ps.Seq < low {
			low, f.AppliedGTID = ps.Seq, ps.Pos
		}
		if first || ps.SourceTime.Before(f.Sent) {
			f.Sent = ps.SourceTime
		}
		first = false
	}
	return f
}
