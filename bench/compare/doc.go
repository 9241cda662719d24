// Package main is bench/compare: it measures wstap beside a direct
// connection and mitmproxy, in one run on one machine, and writes
// docs/performance.md and docs/performance.svg.
//
//	go run ./bench/compare            # the full comparison (several minutes)
//	go run ./bench/compare -quick     # a smoke run
//	go run ./bench/compare -from results.json   # render saved results again
//
// # Overview
//
// Compare builds wstap once and starts, as real processes on 127.0.0.1,
// the echo server (`wstap bench serve`) and in front of it the paths to
// compare, all in reverse mode so that every path sees the same URL shape:
// direct (the echo server itself), record (`wstap record --upstream … -o
// FILE`), no-capture (`wstap record --no-capture`) and mitmproxy
// (`mitmdump --mode reverse:…`). It then drives `wstap bench … --format
// json` against each path and parses its JSON: a size sweep (rtt), a
// connection sweep (conns), paced latency, one big message, and idle
// connections that compare opens itself. Memory is read from
// /proc/PID/status of the proxy process it started.
//
// Rounds are interleaved: in each round every workload point runs on every
// path, with the order of the paths rotated from round to round, and the
// document reports the median of the rounds. Ratios are what count: every
// table divides by direct and, for wstap's paths, by mitmproxy.
//
// A workload that fails or times out on a path is a "failed: reason" cell,
// never the end of the run. Every child command has a timeout; every
// process compare starts is stopped by its PID at the end, on an error and
// on an interrupt.
//
// # Files
//
// The raw per-round results can be saved (-json FILE) and rendered again
// without measuring anything (-from FILE); the document takes its date,
// machine and command from the results, so rendering is reproducible.
//
// # Imports
//
// Compare drives the wstap binary from outside, as a user would. It must
// not import proxy, capture, replay, inspector or cmd/wstap, and it does
// not import loadtest either: it reads what `wstap bench --format json`
// prints. Its only dependencies beyond the standard library are
// gorilla/websocket (the idle connections) and gonum.org/v1/plot (the
// SVG). It is Linux-only in what it measures (/proc).
package main
