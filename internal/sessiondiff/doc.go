// Package sessiondiff compares WebSocket sessions: two recorded connections
// (`wstap diff A B`), or the server's answers of a new run with the recorded
// ones (`wstap replay --check`), and it feeds the inspector's side-by-side
// diff view.
//
// # Overview
//
// Load reads one connection of a capture into a Session: its handshake and
// the data messages (text and binary) that crossed between the peers, whole.
// Pings, pongs, the proxy's own frames and frames the proxy dropped are left
// out: they are not part of the conversation.
//
// Compare compares two messages. When both are text and valid JSON it
// compares them field by field: objects by key (in any order), arrays by
// index, numbers by value (1.0 equals 1 and 1e0), strings after unescaping.
// Other text is equal or differs at a byte offset; binary payloads differ in
// size and at a byte offset. Each difference is a Change named by a path in
// GJSON syntax ("user.name", "items.2"). Options.Ignore leaves paths out of
// the comparison; ParsePath reads them (see Path for the syntax).
//
// Diff aligns two sessions, each direction on its own. It trims the common
// head and tail, then runs Myers' O(ND) difference algorithm (in linear
// space, "An O(ND) Difference Algorithm and Its Variations", 1986) over
// fingerprints of the messages: hashes of the opcode and the payload, with
// JSON canonicalised and the ignored paths removed, so that messages that
// differ only in ignored fields align as equal. When the sessions are too far
// apart (more than Options.MaxDistance edits), the rest is paired by
// position instead, so the work stays bounded. Between two aligned messages,
// deletions and insertions of the same kind of message (same opcode and, for
// JSON objects, the same "type", "op", "event", "method", "action", "kind" or
// "cmd", else the same keys) are paired as Changed; a deletion and an
// insertion anywhere in the direction with equal fingerprints are one
// Reordered message; the rest are Missing (only in A) or Inserted (only in
// B). Check instead pairs messages by position, which is what a replay
// expects.
//
// A Result renders as readable text (WriteText, WriteOps) or as JSON lines
// (WriteJSONL). Timing (durations, rates, the largest gaps) is reported but
// never makes two sessions differ.
//
// # Performance
//
// Each message is fingerprinted once and compared field by field only when
// it is paired as Changed. No step needs a table of N×M entries: sessions of
// 100,000 messages a side diff in about a second, and the alignment's
// work is bounded however different they are.
//
// # Concurrency
//
// Every function is pure; a Result, a Session and a Path are safe to read
// from many goroutines.
//
// # Imports
//
// sessiondiff depends only on capture, github.com/tidwall/gjson and the
// standard library. It must not import proxy, replay, inspector, cmd,
// gorilla or bubbletea: replay and the inspector both use it.
package sessiondiff
