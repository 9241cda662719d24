// Package inspector is wstap's terminal inspector: a bubbletea v2 program
// that browses a capture, afterwards or live while it is recorded.
//
// # Views
//
// The connections list (Tab switches to the plain HTTP exchanges), a
// connection's messages, one message in detail (decoded by package decode,
// switchable with d/D, its frames with f, its JSON-RPC or GraphQL partner
// with p), a connection's handshake and TLS facts (i), and the key map (?).
// A client message edited (e in $EDITOR, E in a textarea) and resent opens
// the resent view: the server's replies, recorded beside now.
//
// DiffModel (NewDiff, RunDiff) is a view of its own: two sessions that
// package sessiondiff aligned, side by side, one row per pair.
//
// # Staying fast
//
// The model holds, per opened connection, one compact row per message
// (position, time, size, direction, opcode, flags and a 64-byte preview),
// about 100 bytes each; payloads stay in the file. Rows are read by a
// loader goroutine (Reader.Summaries, or Assemble over FollowFrom for a
// file still being written) and taken in on a 50 ms tick, so the screen is
// redrawn at most 20 times a second whatever the traffic. Only the visible
// rows are ever formatted. A filter or search runs as a job on its own
// goroutine over the rows, in memory when the rows hold what it needs and
// otherwise in one pass over the file; its hits stream in on the tick and a
// newer filter cancels it. Opening a message reads and formats its payload
// in a tea.Cmd; the detail view renders only the lines on screen.
//
// The relay never talks to the inspector: `record --tui` runs it on the
// file its own writer flushes, so a slow or frozen screen cannot hold up
// traffic.
//
// # Seams
//
// Source is what the inspector reads (*capture.Reader satisfies it), and
// Options.Resend sends a message the user edited (the `e` and `E` keys)
// and returns the replies (a Resent); the command line supplies both.
//
// # Imports
//
// inspector reads captures through capture, decodes payloads through
// decode, parses filters through internal/filter and aligns messages
// through internal/sessiondiff; it holds no decoding or diffing logic of
// its own. It must not import proxy, replay, goproxy or
// gorilla/websocket.
package inspector
