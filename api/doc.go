// Package api holds the wire types of regiond's HTTP API: the bodies of
// its requests and answers under /v1/, and the error body of every
// refusal. It has no behaviour; package client calls the API with these
// types and package apiserver (with regiond's handlers) serves it.
//
// Records the controller or the traffic switch keep (a failover's steps,
// a switch's timings) travel as those packages define them.
package api
