package present

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"", 10, ""},
		{"plain", 10, "plain"},
		{"tab\there", 20, `tab\there`},
		{"nul\x00 bell\a del\x7f", 30, `nul\x00 bell\a del\x7f`},
		{"esc\x1b[2J", 30, `esc\x1b[2J`}, // a terminal escape never reaches the terminal
		{"zero\u200bwidth", 30, `zero\u200bwidth`},
		{"bad\xffutf8", 30, `bad\xffutf8`},
		{`"quotes" and \backslash`, 30, `"quotes" and \backslash`},
		{"wörld ✓ 你好", 20, "wörld ✓ 你好"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven runes", 10, "eleven ru…"},
		{"ab\x00\x00", 5, `ab…`}, // an escape is never split
		{"ab\x00", 6, `ab\x00`},
		{"abc", 0, "…"},
	}
	for _, tt := range tests {
		if got := Escape(tt.s, tt.max); got != tt.want {
			t.Errorf("Escape(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestHex(t *testing.T) {
	tests := []struct {
		p    []byte
		max  int
		want string
	}{
		{nil, 10, ""},
		{[]byte{0, 1, 0xff}, 8, "00 01 ff"},
		{[]byte{0, 1, 2, 3}, 8, "00 01 …"},
		{[]byte{0, 1, 2, 3}, 11, "00 01 02 03"},
		{[]byte{0, 1, 2, 3}, 10, "00 01 02 …"},
	}
	for _, tt := range tests {
		if got := Hex(tt.p, tt.max); got != tt.want {
			t.Errorf("Hex(% x, %d) = %q, want %q", tt.p, tt.max, got, tt.want)
		}
	}
}

func TestPayload(t *testing.T) {
	tests := []struct {
		op    capture.Opcode
		data  string
		width int
		want  string
	}{
		{capture.OpText, "", 20, ""},
		{capture.OpText, "a\tb", 20, `a\tb`},
		{capture.OpText, "\xff", 20, `\xff`}, // invalid text is escaped, not hex
		{capture.OpBinary, "AB", 20, "41 42"},
		{capture.OpBinary, "ABCD", 8, "41 42 …"},
		{capture.OpPing, "hb-1", 20, "hb-1"},
		{capture.OpPong, "\xff\x00", 20, "ff 00"},
		{capture.OpText, "hello world", 8, "hello w…"},
	}
	for _, tt := range tests {
		m := &capture.Message{Opcode: tt.op, Data: []byte(tt.data), Size: int64(len(tt.data))}
		if got := Payload(m, tt.width); got != tt.want {
			t.Errorf("Payload(%s %q, %d) = %q, want %q", tt.op, tt.data, tt.width, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"wörld", 4, "wör…"},
		{"abc", 1, "…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		if got := Cut(tt.s, tt.max); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

// TestPreviewWidth checks Escape and Hex against their budget whatever the
// input: never longer than max, and cut exactly when the whole does not fit.
func TestPreviewWidth(t *testing.T) {
	inputs := []string{"a", "\x00", "✓", "\xff", " ", "ab\x01", "\u200b"}
	for _, in := range inputs {
		for n := 1; n < 40; n += 3 {
			s := strings.Repeat(in, n)
			for max := 1; max < 30; max++ {
				e := Escape(s, max)
				if w := utf8.RuneCountInString(e); w > max {
					t.Errorf("Escape(%q, %d) = %q, %d runes", s, max, e, w)
				}
				if whole := Escape(s, 1<<20); (e != whole) != strings.HasSuffix(e, "…") {
					t.Errorf("Escape(%q, %d) = %q: cut and … disagree", s, max, e)
				}
				h := Hex([]byte(s), max)
				if w := utf8.RuneCountInString(h); w > max && max >= 2 {
					t.Errorf("Hex(%q, %d) = %q, %d runes", s, max, h, w)
				}
			}
		}
	}
}

// TestPayloadBigData checks that a capped payload previews as the whole
// one would, so MaxData does not change what show prints.
func TestPayloadBigData(t *testing.T) {
	for _, op := range []capture.Opcode{capture.OpText, capture.OpBinary} {
		whole := bytes.Repeat([]byte("\x00a✓"), 2000)
		capped := &capture.Message{Opcode: op, Data: whole[:1024], Cut: true}
		full := &capture.Message{Opcode: op, Data: whole}
		if a, b := Payload(capped, 100), Payload(full, 100); a != b {
			t.Errorf("%s: Payload of a capped message = %q, of the whole %q", op, a, b)
		}
	}
}
