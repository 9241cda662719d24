package present

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// Escape returns s with control characters, other non-printable runes and
// invalid UTF-8 escaped as Go's %q does (\n, \t, \x00, \u200b …), but
// without surrounding quotes and leaving quotes and backslashes alone. The
// result is at most max runes long; a longer one is cut and ends in "…".
// An escape sequence is never split.
func Escape(s string, max int) string {
	p := previewer{max: max, ellipsis: "…"}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case strconv.IsPrint(r):
			piece = s[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		if !p.add(piece) {
			break
		}
		i += size
	}
	return p.String()
}

// Hex returns data as space-separated hex bytes, "00 01 02", at most max
// runes long; a longer one is cut and ends in " …".
func Hex(data []byte, max int) string {
	p := previewer{max: max, ellipsis: " …"}
	for i, c := range data {
		piece := fmt.Sprintf("%02x", c)
		if i > 0 {
			piece = " " + piece
		}
		if !p.add(piece) {
			break
		}
	}
	return p.String()
}

// Payload previews a message's payload in at most width runes: text
// escaped, binary as hex. Control payloads (ping, pong) are shown as text
// when they are valid UTF-8. An empty payload has an empty preview.
//
// Only m.Data is shown. A caller that caps it (AssembleOptions.MaxData) to
// far more bytes than width needs prints the same line: every byte takes at
// least a quarter of a column, so the preview is cut long before the end
// of a Cut message, and its "…" marks both.
func Payload(m *capture.Message, width int) string {
	if len(m.Data) == 0 {
		return ""
	}
	if m.Opcode == capture.OpText || (m.Opcode.IsControl() && utf8.Valid(m.Data)) {
		return Escape(string(m.Data), width)
	}
	return Hex(m.Data, width)
}

// Cut shortens s to at most max runes, ending it with "…" when it was
// longer. Unlike Escape it leaves the runes as they are: it is for text the
// capture's writer vetted, such as URLs.
func Cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max < 1 {
		return ""
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// previewer builds a one-line preview out of pieces that are never split
// (an escape sequence, a hex byte), within a budget of max runes.
type previewer struct {
	max      int
	ellipsis string // ends a cut preview
	b        strings.Builder
	n        int  // runes in b
	fit      int  // length of b at the last piece boundary that leaves room for the ellipsis
	full     bool // a piece did not fit: the preview is cut
}

// add appends piece if it fits, and reports whether it did.
func (p *previewer) add(piece string) bool {
	w := utf8.RuneCountInString(piece)
	if p.n+w > p.max {
		p.full = true
		return false
	}
	p.b.WriteString(piece)
	p.n += w
	if p.n+utf8.RuneCountInString(p.ellipsis) <= p.max {
		p.fit = p.b.Len()
	}
	return true
}

func (p *previewer) String() string {
	if !p.full {
		return p.b.String()
	}
	return strings.TrimRight(p.b.String()[:p.fit], " ") + p.ellipsis
}
