// Package liveness tells which regions are up, from hashicorp/memberlist
// gossip among all regionds and the witness.
//
// Every Member publishes its meta (region, role, API URL) and gossips its
// View: which regions' regionds it sees alive and whether it reaches each
// region's MySQL (through an injected probe, so this package needs no
// MySQL driver). Each member runs a Detector over all views: region R is
// declared failed only when a majority of the observers outside R have
// lost R (regiond gone and MySQL unreachable) for FailAfter; after that a
// cooldown suppresses new declarations (anti-flapping), and a region that
// comes back is reported as returned (it stays fenced: that is the
// controller's business).
//
//	cfg := liveness.DefaultConfig("regiond-a", "a", liveness.RoleRegiond)
//	cfg.BindAddr, cfg.BindPort = "10.0.1.5", 7946
//	cfg.Join = []string{"10.0.2.5:7946", "10.0.3.5:7946"}
//	cfg.Regions = []string{"a", "b"}
//	cfg.Observers = map[string]string{"regiond-a": "a", "regiond-b": "b", "witness": ""}
//	cfg.ProbeMySQL = func(ctx context.Context, region string) error { return dbs[region].PingContext(ctx) }
//	cfg.OnEvent = func(e liveness.Event) { events <- e } // failed, suppressed, returned
//	m, err := liveness.New(cfg)
//	if err != nil { return err }
//	return m.Run(ctx) // until ctx ends; m.Members(), m.Views(), m.Regions() meanwhile
package liveness
