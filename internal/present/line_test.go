package present

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 123_000_000, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestLine(t *testing.T) {
	tests := []struct {
		rec  capture.Record
		want string
	}{
		{&capture.ConnOpen{Conn: 1, Time: at(0), URL: "wss://a.example.test/p", Status: 101, Subprotocol: "chat"},
			"12:00:00.123 #1 open  wss://a.example.test/p  101 chat"},
		{&capture.ConnOpen{Conn: 1, Time: at(0), URL: "wss://a.example.test/p", Status: 101, Extensions: "permessage-deflate"},
			"12:00:00.123 #1 open  wss://a.example.test/p  101  (permessage-deflate)"},
		{&capture.ConnOpen{Conn: 2, Time: at(0), URL: "ws://b.example.test/", Status: 0},
			"12:00:00.123 #2 open  ws://b.example.test/  -"},
		{&capture.Message{Conn: 1, Time: at(1), Dir: capture.ClientToServer, Opcode: capture.OpText, Size: 5, Data: []byte("a\tb\x7fc")},
			`12:00:00.124 #1 → text        5 B a\tb\x7fc`},
		{&capture.Message{Conn: 1, Time: at(1), Dir: capture.ServerToClient, Opcode: capture.OpBinary, Size: 0},
			"12:00:00.124 #1 ← binary      0 B"},
		{&capture.Message{Conn: 1, Time: at(1), Dir: capture.ProxyToServer, Opcode: capture.OpPing, Size: 2, Data: []byte{0xff, 0}},
			"12:00:00.124 #1 ⇢ ping        2 B ff 00"},
		{&capture.Message{Conn: 1, Time: at(1), Dir: capture.ServerToClient, Opcode: capture.OpText, Size: 3 << 20,
			Data: []byte("{}"), Compressed: true, Incomplete: true},
			"12:00:00.124 #1 ← text    3.0 MiB [z] [incomplete] {}"},
		{&capture.Close{Conn: 1, Time: at(2), Dir: capture.ServerToClient, Code: 1005},
			"12:00:00.125 #1 ← close  1005 (no status)"},
		{&capture.Close{Conn: 1, Time: at(2), Dir: capture.ClientToServer, Code: 1004},
			"12:00:00.125 #1 → close  1004 (reserved)"},
		{&capture.Close{Conn: 1, Time: at(2), Dir: capture.ClientToServer, Code: 4000, Reason: "a\nb"},
			`12:00:00.125 #1 → close  4000 "a\nb"`},
		{&capture.Close{Conn: 1, Time: at(2), Dir: capture.ProxyToClient, Code: 1001, Reason: "bye"},
			`12:00:00.125 #1 ⇠ close  1001 (going away) "bye"`},
		{&capture.Event{Conn: 0, Time: at(3), Kind: "error", Detail: "disk full\n"},
			`12:00:00.126 * event error: disk full\n`},
		{&capture.Event{Conn: 3, Time: at(3), Kind: "note"}, "12:00:00.126 #3 event note"},
		{&capture.End{Conn: 7, Time: at(4)}, "12:00:00.127 #7 end"},
		{&capture.End{Conn: 7, Time: at(4), Error: "ghost\x00connection"}, `12:00:00.127 #7 end (ghost\x00connection)`},
		{&capture.HTTP{ID: 2, Time: at(5), Method: "POST", URL: "http://c.example.test/x", Error: "EOF"},
			"12:00:00.128 http#2 POST http://c.example.test/x  -  0 B  0s  error: EOF"},
		{&capture.HTTP{ID: 1, Time: at(5), Method: "GET", URL: "http://c.example.test/", Status: 200, ResponseSize: 11,
			Duration: 3 * time.Millisecond}, "12:00:00.128 http#1 GET http://c.example.test/  200  11 B  3ms"},
		{&capture.Frame{Conn: 1, Time: at(6), Dir: capture.ClientToServer, Opcode: capture.OpContinuation, Masked: true, Length: 7},
			"12:00:00.129 #1 → frame continuation masked 7 B"},
		{&capture.Chunk{Conn: 1, Time: at(7)}, "12:00:00.130 #1 chunk"}, // not assembled: its kind only
	}
	for _, tt := range tests {
		if got := Line(tt.rec, 100); got != tt.want {
			t.Errorf("Line(%T, 100) =\n%s\nwant\n%s", tt.rec, got, tt.want)
		}
	}
}

// TestLineWidth checks that message, event and end lines fit the width
// (one rune a column) whatever the payload, and that cut ones end in "…".
func TestLineWidth(t *testing.T) {
	big := func(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }
	payloads := map[string][]byte{
		"ascii":    big("a", 10000),
		"controls": big("\x00\x01\n", 5000),
		"invalid":  big("\xff\xfe", 5000),
		"unicode":  big("✓你", 5000),
		"spaces":   big(" ", 500),
	}
	// Lines are cut to width when it leaves a preview its minimum of 16
	// columns, as any terminal does.
	for _, width := range []int{100, 120, 200} {
		for name, p := range payloads {
			data := p[:min(len(p), 1024)]
			recs := []capture.Record{
				&capture.Event{Conn: 123456, Time: at(0), Kind: "violation", Detail: string(data)},
				&capture.End{Conn: 123456, Time: at(0), Error: string(data)},
			}
			for _, op := range []capture.Opcode{capture.OpText, capture.OpBinary, capture.OpPing} {
				recs = append(recs, &capture.Message{Conn: 123456, Dir: capture.ProxyToClient, Opcode: op, Time: at(0),
					Size: int64(len(p)) * 1000, Data: data, Cut: len(p) > len(data), Truncated: true, Incomplete: true,
					Compressed: true})
			}
			for _, rec := range recs {
				line := Line(rec, width)
				if n := utf8.RuneCountInString(line); n > width {
					t.Errorf("%s %T width %d: line of %d runes:\n%s", name, rec, width, n, line)
				}
				if _, end := rec.(*capture.End); end {
					line = strings.TrimSuffix(line, ")")
				}
				if !strings.HasSuffix(line, "…") {
					t.Errorf("%s %T width %d: a cut preview does not end in …:\n%s", name, rec, width, line)
				}
			}
		}
	}
}

func TestFrameFacts(t *testing.T) {
	tests := []struct {
		f    capture.Frame
		want string
	}{
		{capture.Frame{Opcode: capture.OpText, Fin: true, Length: 5}, "text FIN 5 B"},
		{capture.Frame{Opcode: capture.OpText, RSV: 4, Masked: true, Length: 125}, "text RSV1 masked 125 B"},
		{capture.Frame{Opcode: capture.OpContinuation, Fin: true, Masked: true, Length: 2048}, "continuation FIN masked 2.0 KiB"},
		{capture.Frame{Opcode: capture.OpBinary, RSV: 2}, "binary RSV2 0 B"},
		{capture.Frame{Opcode: capture.OpBinary, RSV: 1}, "binary RSV3 0 B"},
		{capture.Frame{Opcode: capture.OpClose, Fin: true, RSV: 7, Length: 2}, "close FIN RSV1 RSV2 RSV3 2 B"},
		{capture.Frame{Opcode: capture.Opcode(3), Fin: true}, capture.Opcode(3).String() + " FIN 0 B"},
	}
	for _, tt := range tests {
		if got := FrameFacts(&tt.f); got != tt.want {
			t.Errorf("FrameFacts(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestFrameLine(t *testing.T) {
	tests := []struct {
		f    capture.Frame
		at   time.Time
		want string
	}{
		{capture.Frame{Time: at(0), Opcode: capture.OpText, Fin: true, Length: 5}, at(0),
			"             └ frame text FIN 5 B +0s"},
		{capture.Frame{Time: at(12), Opcode: capture.OpContinuation, Masked: true, Length: 9}, at(0),
			"             └ frame continuation masked 9 B +12ms"},
		{capture.Frame{Time: at(0), Opcode: capture.OpText, RSV: 4, Length: 9}, at(1),
			"             └ frame text RSV1 9 B -1ms"},
	}
	for _, tt := range tests {
		if got := FrameLine(&tt.f, tt.at); got != tt.want {
			t.Errorf("FrameLine(%+v) =\n%q\nwant\n%q", tt.f, got, tt.want)
		}
	}
	// The └ sits under the connection column of the record's line.
	rec := &capture.Message{Conn: 1, Time: at(0), Dir: capture.ClientToServer, Opcode: capture.OpText}
	f := &capture.Frame{Time: at(0), Opcode: capture.OpText, Fin: true}
	if got, want := strings.Index(FrameLine(f, at(0)), "└"), strings.Index(Line(rec, 100), "#1"); got != want {
		t.Errorf("└ at byte %d, the connection at %d", got, want)
	}
}
