package decode

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// render writes a Doc as golden text: each line, then a tab-indented line
// naming its spans.
func render(d Doc) string {
	var sb strings.Builder
	for i := range d.Len() {
		l := d.Line(i)
		sb.WriteString(l.Text)
		sb.WriteString("\n\t#")
		for _, s := range l.Spans {
			fmt.Fprintf(&sb, " %s%q", s.Class, l.Text[s.Start:s.End])
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

var hexLine = regexp.MustCompile(`^ *[0-9a-f]{8,}  `)

// checkDoc checks the invariants every Doc keeps: valid UTF-8 text without
// control characters or tabs, spans sorted, non-overlapping and on rune
// boundaries, and (width > 0) no line wider than width cells but for hex
// dump lines and a lone rune too wide.
func checkDoc(t testing.TB, d Doc, width int) {
	t.Helper()
	n := d.Len()
	if n < 0 {
		t.Fatalf("Len() = %d", n)
	}
	for _, i := range []int{-1, n, n + 1} {
		if l := d.Line(i); l.Text != "" || l.Spans != nil {
			t.Fatalf("Line(%d) out of range = %+v, want the zero Line", i, l)
		}
	}
	for i := range n {
		checkLine(t, i, d.Line(i), width)
	}
}

func checkLine(t testing.TB, i int, l Line, width int) {
	t.Helper()
	if !utf8.ValidString(l.Text) {
		t.Fatalf("Line(%d).Text = %q: not UTF-8", i, l.Text)
	}
	for _, r := range l.Text {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || escapeRune(r) && r >= 0xa0 {
			t.Fatalf("Line(%d).Text = %q holds control %U", i, l.Text, r)
		}
	}
	end := 0
	for k, s := range l.Spans {
		if s.Start < end || s.End <= s.Start || s.End > len(l.Text) {
			t.Fatalf("Line(%d) = %q: span %d %+v out of order or range", i, l.Text, k, s)
		}
		if !utf8.RuneStart(l.Text[s.Start]) || s.End < len(l.Text) && !utf8.RuneStart(l.Text[s.End]) {
			t.Fatalf("Line(%d) = %q: span %d %+v splits a rune", i, l.Text, k, s)
		}
		if s.Class >= numClasses {
			t.Fatalf("Line(%d): span %d has class %d", i, k, s.Class)
		}
		end = s.End
	}
	if width > 0 && !hexLine.MatchString(l.Text) {
		if w := cellWidth([]byte(l.Text)); w > width && utf8.RuneCountInString(strings.TrimLeft(l.Text, " ")) > 1 {
			t.Fatalf("Line(%d) = %q is %d cells, over %d", i, l.Text, w, width)
		}
	}
}

// MQTT packet builders.

// pkt builds a control packet from its first byte and body parts.
func pkt(first byte, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	out := []byte{first}
	n := len(body)
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, body...)
}

// s16 is a string or binary with its 2-byte length.
func s16(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func b(v ...byte) []byte { return v }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func formatKind(k Kind, data []byte, opts Options) (Doc, error) {
	return Format(context.Background(), k, data, opts)
}
