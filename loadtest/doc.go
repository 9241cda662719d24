// Package loadtest is the engine of `wstap bench`: a load tool users point at
// their own WebSocket servers, directly, through an explicit HTTP proxy or
// through wstap in reverse mode.
//
// # Overview
//
// Each mode is a function that dials, runs, checks and returns a *Report:
//
//   - RTT: windowed round trips on one connection against an echo server,
//     every echo checked for content and order.
//   - Push: the receive rate from a server that pushes, with gaps in its
//     sequence numbers and the delivery lag.
//   - Latency: paced sends against an echo server, each round trip timed;
//     p50/p90/p99/max.
//   - Conns: many connections at once, each checking that every echo it
//     receives carries its own tag (cross-talk).
//   - Big: one large pseudo-random message, sent and echoed as a stream and
//     compared by SHA-256, so neither copy is held in memory.
//
// Server is the built-in echo (/echo) and push (/push) server.
//
// A check that does not hold (a corrupted echo, cross-talk, lost messages)
// is a failure in the Report, not an error: Report.Err turns it into one.
// An error returned by a mode means the run could not be done at all.
//
// # Message tags
//
// RTT, Latency and Conns tag each message with ASCII hex in its first
// 16 (Latency: 32) bytes, so text and binary messages carry the same tags.
// Pushed messages carry a big-endian uint64 sequence number (1, 2, 3 …)
// and an int64 Unix time in nanoseconds in their first 16 bytes.
//
// # Concurrency
//
// Each connection has one reading and one writing goroutine; every goroutine
// a mode starts ends before the mode returns. Progress callbacks come from
// one goroutine at a time.
//
// The package imports gorilla/websocket and the standard library only,
// never the proxy, replay, inspector or cmd packages.
package loadtest
