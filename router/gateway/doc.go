// Package gateway is the routing reverse proxy in front of the
// application: it takes a request's user key (header, then cookie, then
// query parameter), asks a router.Router which cell and region serve the
// user, and proxies the request to that region's application, adding the
// headers X-Region-Bucket, X-Region-Cell and X-Region-Epoch.
//
// A write (any method but GET, HEAD and OPTIONS) to a bucket a traffic
// switch holds write-forbidden is refused 503 with Retry-After and a JSON
// body saying why; reads pass. The gateway counts the writes it admits
// per routing-table generation and bucket, and its Settle is the
// router's Config.Settle, so a router reports epoch E applied only once
// no write admitted under an older table is still running in a bucket E
// routes differently (a switch's fenced buckets, a fenced region's).
//
// Usage, with a store on the deployment's etcd and deployment config dep:
//
//	inflight := router.NewInflight(router.DefaultSettleBound, log)
//	rc := router.DefaultConfig()
//	rc.Store, rc.ID, rc.Region, rc.Kind = store, "gateway-a", "a", "gateway"
//	rc.Endpoints, rc.Settle, rc.Logger = endpoints, inflight.Settle, log
//	r, err := router.New(rc)
//	...
//	gc, err := gateway.FromDeployment(dep, "a")
//	gc.Router, gc.Inflight, gc.Logger, gc.Registerer = r, inflight, log, reg
//	g, err := gateway.New(gc)
//	...
//	go r.Run(ctx)  // both owned by the caller's Run(ctx)
//	err = g.Run(ctx) // serves gc.Listen until ctx ends
package gateway
