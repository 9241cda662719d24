// Package replay replays the client side of captured connections against
// a server and plays the server side back to clients as a mock server.
//
// A connection is loaded as a Script: its handshake and the messages that
// crossed between the peers, numbered per side. Run dials the server with
// the recorded handshake and sends the client's messages, paced
// (reactively, at the recorded gaps, or as soon as possible), edited
// (Edits: --set, --sub, --drop, --only) and correlated with what the new
// server hands out (Extract, Vars). ConnResult.Check compares the server's
// answers with the recorded ones. Resend replays up to one edited message
// for the inspector. Server is the mock: it plays the recorded server
// messages to each client that connects and reports client messages that
// differ from the recording.
//
// # Imports
//
// replay depends on capture, internal/sessiondiff, internal/tlsfacts and
// gorilla/websocket. It must not import proxy, inspector or cmd/wstap.
package replay
