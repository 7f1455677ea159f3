// Package regiond is the daemon that runs in every region: it hosts the
// HTTP API (health, status, metrics, audit), watches its region's
// dependencies (MySQL, Kafka, etcd), and will host capture, the appliers,
// the router agent and the controller as those land.
//
// Start one in-process (tests do this too):
//
//	cfg, _ := config.Load("deploy.yaml")
//	d, err := regiond.New(regiond.Config{Deployment: cfg, Region: "a", Logger: logger})
//	if err != nil { ... }
//	err = d.Run(ctx) // returns after ctx ends and everything has stopped
package regiond
