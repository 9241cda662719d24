// Package inspector is wstap's terminal inspector: it browses a capture, live
// or afterwards, with bubbletea v2.
//
// Work on it starts after the capture and the relay; this package holds its
// place in the layout of DESIGN.md.
//
// # Imports
//
// inspector reads captures through the capture package. It must not import
// proxy, replay, goproxy or gorilla/websocket.
package inspector
