// Package console is the traffic switch console: a single web page that
// regiond serves at /console/, embedded in the binary, in plain HTML,
// CSS and JavaScript with no build step and nothing loaded from the
// internet.
//
// The page is public; its data is not. The operator logs in with an API
// token; regiond keeps it in a server-side session and gives the browser
// only the session's random id (the HttpOnly region_session cookie; a
// logout ends the session on the server), and the page then calls
// regiond's API as that token: GET /v1/whoami,
// GET /v1/overview (every region's health, cells and replication links),
// GET /v1/routes (the bucket map), GET and POST /v1/switches (preview,
// start, progress and history of traffic switches). A viewer token sees
// everything; the switch controls need an operator token, and the API
// refuses a viewer anyway.
//
// regiond registers it:
//
//	srv.HandlePublic("GET "+console.Path, console.Handler())
//	srv.HandlePublic("POST /console/login", srv.LoginHandler())
//	srv.HandlePublic("POST /console/logout", srv.LogoutHandler())
//
// See docs/console.md for what the page shows and how to use it.
package console
