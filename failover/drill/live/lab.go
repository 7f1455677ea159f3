package live

import (
	"context"
	"time"
)

// Lab is the lab a drill runs in, when it runs in one: what the drill
// needs beyond the deployment's API, to kill and start a region's
// processes and to run a client load whose history is the drill's
// ledger. regionctl passes package drilllab's; regiond's scheduled drills
// run without one, so that the daemon links no lab.
type Lab interface {
	// Regions names the lab's regions, in order.
	Regions() []string
	// Kill kills every process of region; Start starts them again.
	Kill(ctx context.Context, region string) error
	Start(ctx context.Context, region string) error
	// StartMySQL starts region's MySQL alone (a rebuild step copies into
	// it while the region's regiond stays stopped).
	StartMySQL(ctx context.Context, region string) error
	// HomeRegion is the region the lab's starting placement gives user u
	// (where a failback brings it).
	HomeRegion(u int64) string
	// StartLoad opens the ledgers of users and starts the drill's client
	// load through region's gateway, writing rate moves a second.
	StartLoad(ctx context.Context, region string, users []int64, rate float64) (Load, error)
}

// Load is a lab drill's client load. The drill calls it from one
// goroutine.
type Load interface {
	// Pause stops the load and waits for its writes' answers; Resume
	// starts it again. Both are no-ops when already so.
	Pause()
	Resume()
	// Open opens the ledger of user u, outside the load (a probe user),
	// and waits until every region holds it.
	Open(ctx context.Context, u int64) error
	// Probe writes for user u every 50 ms until a write is acknowledged
	// by an app of a region ok accepts, and returns when it was. It gives
	// up when ctx ends.
	Probe(ctx context.Context, u int64, ok func(region string) bool) (time.Time, error)
	// Verify pauses the load and checks its history against what every
	// region holds, waiting up to wait for replication.
	Verify(ctx context.Context, wait time.Duration) (LedgerCheck, error)
}

// LedgerCheck is what a load's history shows against the regions.
type LedgerCheck struct {
	// Acknowledged writes; of them, Missing in some region, and
	// Duplicated writes applied twice.
	Acknowledged, Missing, Duplicated int64
	// Samples describe violations and writes without an answer.
	Samples []string
}
