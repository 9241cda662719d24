// Package replay resends the client side of a captured connection to a
// server (with edits, optionally as a regression check), plays the server
// side back as a mock server, diffs two sessions, and exports captures (HAR,
// JSON lines, runnable client code).
//
// Work on it starts after the capture and the relay; this package holds its
// place in the layout of DESIGN.md.
//
// # Imports
//
// replay depends on capture and gorilla/websocket. It must not import proxy,
// inspector or cmd/wstap.
package replay
