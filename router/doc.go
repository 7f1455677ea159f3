// Package router holds the routing table and the router that serves it:
// users hash to buckets, buckets belong to cells, cells live in regions.
//
// The table lives in etcd (Store): every change is validated, written as a
// new epoch by compare-and-swap, and kept in a history that can be shown
// and rolled back to. A Router keeps the table in memory from an etcd
// watch and answers Route without locks or allocation; it registers
// itself under a lease and publishes the epoch it has applied, which a
// traffic switch (package traffic) waits for before it moves buckets.
//
// Applications import it as the SDK:
//
//	etcd, _ := clientv3.New(clientv3.Config{Endpoints: []string{"https://etcd-1:2379"}})
//	cfg := router.DefaultConfig()
//	cfg.Store = router.NewStore(etcd, "/region/")
//	cfg.ID, cfg.Region, cfg.Kind = "billing-7", "eu-west", "sdk"
//	cfg.Endpoints = map[string]string{"eu-west": "https://app.eu-west", "eu-central": "https://app.eu-central"}
//	r, err := router.New(cfg)
//	if err != nil { ... }
//	go r.Run(ctx)
//	<-r.Ready()
//	rt, _ := r.Route("1042") // bucket, cell, region, endpoint, write-forbidden, epoch
//	if rt.WriteForbidden && isWrite { // a switch is moving the user: retry shortly
//	}
//
// An SDK that writes should track the writes it admits and set
// Config.Settle (see Inflight), so that the epoch it reports applied
// means no write routed by an older table is running where the new one
// routes differently.
package router
