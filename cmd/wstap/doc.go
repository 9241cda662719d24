// Package main is the wstap command, a recording man-in-the-middle proxy and
// traffic inspector for WebSocket.
//
// # Overview
//
// One file per verb (record.go, demo.go, ls.go, show.go, inspect.go,
// replay.go, serve.go, diff.go, export.go, import.go, ca.go, cert.go),
// each with a newXCommand constructor, an xOptions struct with AddFlags, and
// a runX function that tests call directly. exitCode in root.go is the one
// place that maps errors to exit statuses: 0 ok, 1 error, 2 usage, 3
// differences found.
//
// # Imports
//
// This package only wires: flags, signals, output formatting and exit
// codes. The work happens in capture, proxy, certs, inspector, replay,
// har, codegen and internal/…; nothing imports this package.
package main
