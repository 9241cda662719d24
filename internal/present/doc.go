// Package present renders capture records for people: the one-line text of
// `wstap show`, payload previews with control characters escaped, hex, byte
// sizes, durations, clock times, close-code names, direction arrows and the
// frames under a message. The coming terminal inspector draws with the same
// functions, so both show a capture alike.
//
// # Overview
//
// Every function is pure: it formats what it is given and neither reads nor
// writes. Previews are bounded by a width in runes (one rune a column) and
// cut ones end in "…"; a payload is never printed raw, so a capture cannot
// move the cursor or change the colours of the terminal it is shown on.
// FrameBuffer assigns Frame records to the message or close record whose
// frames they were, for `show --frames`.
//
// # Imports
//
// present depends only on capture and the standard library. It must not
// import proxy, replay, inspector or cmd: it is shared by the command and
// the inspector, below both.
package present
