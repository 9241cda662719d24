package present

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// Line renders one record as one line of `wstap show`'s text format: the
// clock time, the connection, then what the record says, with payloads and
// free text escaped and cut so that a message line fits width columns (one
// rune a column; at least 16 columns of preview are kept on narrow widths).
//
//	12:00:00.128 #1 → text       28 B [z] héllo wörld
//	12:00:02.224 #2 ⇠ close  1001 (going away)
func Line(rec capture.Record, width int) string {
	prefix := Clock(rec.At()) + " " + ConnLabel(rec.ConnID())
	room := func(s string) int { return max(16, width-utf8.RuneCountInString(s)-1) }
	switch r := rec.(type) {
	case *capture.ConnOpen:
		s := fmt.Sprintf("%s open  %s  %s", prefix, r.URL, HTTPStatus(r.Status))
		if r.Subprotocol != "" {
			s += " " + r.Subprotocol
		}
		if r.Extensions != "" {
			s += "  (" + r.Extensions + ")"
		}
		return s
	case *capture.Message:
		s := fmt.Sprintf("%s %s %-6s %8s", prefix, Arrow(r.Dir), r.Opcode, Bytes(r.Size))
		if tags := MessageTags(r); tags != "" {
			s += " " + tags
		}
		if p := Payload(r, room(s)); p != "" {
			s += " " + p
		}
		return s
	case *capture.Close:
		s := fmt.Sprintf("%s %s close  %d", prefix, Arrow(r.Dir), r.Code)
		if name := CloseCodeName(r.Code); name != "" {
			s += " (" + name + ")"
		}
		if r.Reason != "" {
			s += " " + strconv.Quote(r.Reason)
		}
		return s
	case *capture.Event:
		s := fmt.Sprintf("%s event %s", prefix, r.Kind)
		if r.Detail != "" {
			s += ": " + Escape(r.Detail, room(s)-2)
		}
		return s
	case *capture.End:
		s := prefix + " end"
		if r.Error != "" {
			s += " (" + Escape(r.Error, room(s)-3) + ")"
		}
		return s
	case *capture.HTTP:
		s := fmt.Sprintf("%s http#%d %s %s  %s  %s  %s", Clock(r.Time), r.ID, r.Method, r.URL, HTTPStatus(r.Status),
			Bytes(r.ResponseSize), Duration(r.Duration))
		if r.Error != "" {
			s += "  error: " + Escape(r.Error, room(s)-9)
		}
		return s
	case *capture.Frame:
		return fmt.Sprintf("%s %s frame %s", prefix, Arrow(r.Dir), FrameFacts(r))
	}
	return fmt.Sprintf("%s %s", prefix, rec.Type())
}

// FrameFacts describes a frame header in a few words: its opcode, then FIN,
// RSV1, RSV2 and RSV3 where those bits are set, "masked" when it was, and
// the payload length on the wire: "text FIN RSV1 masked 125 B". RSV1 on a
// message's first frame means permessage-deflate compressed it (RFC 7692,
// section 6); FIN marks a message's last frame (RFC 6455, section 5.2).
func FrameFacts(f *capture.Frame) string {
	var b strings.Builder
	b.WriteString(f.Opcode.String())
	if f.Fin {
		b.WriteString(" FIN")
	}
	for i, name := range []string{"RSV1", "RSV2", "RSV3"} {
		if f.RSV&(4>>i) != 0 {
			b.WriteString(" " + name)
		}
	}
	if f.Masked {
		b.WriteString(" masked")
	}
	b.WriteString(" " + Bytes(f.Length))
	return b.String()
}

// frameIndent puts a frame line's "└" under the connection column of the
// record line above it.
var frameIndent = strings.Repeat(" ", len("15:04:05.000 "))

// FrameLine renders a frame of a record whose time is at, as `show
// --frames` prints it under that record's Line: its FrameFacts and its
// time relative to the record's.
//
//	12:00:00.128 #1 → text       12 B hello world!
//	             └ frame text masked 5 B +0s
//	             └ frame continuation FIN masked 7 B +1ms
func FrameLine(f *capture.Frame, at time.Time) string {
	return frameIndent + "└ frame " + FrameFacts(f) + " " + Offset(f.Time.Sub(at))
}
