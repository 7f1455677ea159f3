package liveness

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Roles of a member.
const (
	RoleRegiond = "regiond"
	RoleWitness = "witness"
)

// Meta is what a member publishes about itself in memberlist's node meta.
type Meta struct {
	Region string `json:"region,omitempty"` // empty for the witness
	Role   string `json:"role"`
	APIURL string `json:"api_url,omitempty"`
}

// View is what one observer (a regiond or the witness) currently sees of
// every region. Members gossip their views; each member's Detector decides
// from all of them.
type View struct {
	Observer string `json:"observer"`         // member name
	Region   string `json:"region,omitempty"` // observer's own region; empty for the witness
	// Boot and Seq order the views of one observer: Boot changes when the
	// observer restarts, Seq grows with every view it sends.
	Boot int64  `json:"boot"`
	Seq  uint64 `json:"seq"`
	// Alive[r]: the observer sees a regiond of region r alive or suspect in
	// the gossip. A region absent from the map is unknown to it.
	Alive map[string]bool `json:"alive"`
	// MySQL[r]: the observer's last probe of region r's MySQL succeeded.
	// Absent means not probed yet.
	MySQL map[string]bool `json:"mysql"`
	// DownMS[r]: for how many milliseconds, by the observer's own clock,
	// it has lost region r (no regiond, MySQL unreachable) without a break,
	// when it sent the view. With it a receiver counts FailAfter from when
	// the observer lost r, not from when the view reached it (up to a view
	// interval and a gossip round later). A duration, never a time: hosts'
	// clocks need not agree. Absent (an older observer) counts from receipt.
	DownMS map[string]int64 `json:"down_ms,omitempty"`
	// ReceivedAt is when this member received the view, by its own clock
	// (never the observer's, so clock skew between hosts does not matter).
	ReceivedAt time.Time `json:"received_at"`
}

// newer reports whether v comes after w from the same observer.
func (v View) newer(w View) bool {
	if v.Boot != w.Boot {
		return v.Boot > w.Boot
	}
	return v.Seq > w.Seq
}

// down reports whether the view has lost region r: no regiond of r in the
// gossip and r's MySQL unreachable. Unknown counts as not down.
func (v View) down(r string) bool {
	alive, ok1 := v.Alive[r]
	mysql, ok2 := v.MySQL[r]
	return ok1 && ok2 && !alive && !mysql
}

// lostSince is when, by the receiver's clock, the observer lost region r:
// the view's receipt less how long the observer had lost r when it sent
// it (a view that travelled counts from later than the loss, never from
// earlier). known is false when the view does not say (an older observer).
func (v View) lostSince(r string) (at time.Time, known bool) {
	ms, ok := v.DownMS[r]
	if !ok {
		return time.Time{}, false
	}
	return v.ReceivedAt.Add(-time.Duration(max(ms, 0)) * time.Millisecond), true
}

func (v View) clone() View {
	c := v
	c.Alive = make(map[string]bool, len(v.Alive))
	for k, b := range v.Alive {
		c.Alive[k] = b
	}
	c.MySQL = make(map[string]bool, len(v.MySQL))
	for k, b := range v.MySQL {
		c.MySQL[k] = b
	}
	c.DownMS = maps.Clone(v.DownMS)
	return c
}

func encodeView(v View) ([]byte, error) {
	v.ReceivedAt = time.Time{}
	return json.Marshal(v)
}

func decodeView(b []byte) (View, error) {
	var v View
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode view: %w", err)
	}
	if v.Observer == "" {
		return v, fmt.Errorf("decode view: no observer")
	}
	return v, nil
}
