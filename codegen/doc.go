// Package codegen writes runnable client programs from a recorded
// WebSocket connection: a Python script (the websockets library), a
// JavaScript one (Node and the ws package) and a Go program
// (gorilla/websocket). Each dials the recorded URL (or --url's scheme, host
// and port, with the recorded path and query), repeats the recorded
// handshake, sends the client's messages in order, paced reactively or at
// the recorded gaps, prints what the server sends and closes as the client
// did. It is what `wstap export --format python|js|go` writes.
//
// # Overview
//
// Generate takes a replay.Script and Options and returns the script and,
// for a session too large to read well inline (more than 200 client
// messages or 256 KiB of client payload), a JSON data file that the script
// reads from beside itself. The output is deterministic: the same script
// and options give the same bytes.
//
// # Fidelity
//
// What the server receives is the recording, byte for byte, where the
// library allows it: the request target (percent-encoding, an encoded
// slash, repeated query keys and raw non-ASCII bytes untouched), the
// subprotocol offer, the end-to-end handshake headers (replay.RecordedHeaders)
// in their case, and the messages. Where a library would re-encode the
// request target, the generated code puts it back, with a comment saying
// why. Header order is kept by the Python and Node clients; Go's net/http
// writes headers sorted by name.
//
// Secrets are not written into scripts: the values of Authorization, Cookie
// and Proxy-Authorization come from environment variables named at the top
// of the script (WSTAP_AUTHORIZATION, …) unless Options.KeepSecrets is set,
// and those of headers the capture redacted always do.
//
// # Imports
//
// codegen depends on capture, replay and the standard library. It must not
// import proxy, inspector, cmd/wstap or gorilla/websocket: the generated Go
// program uses gorilla, the package itself does not.
package codegen
