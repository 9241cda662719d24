package decode

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Helpers for the JSON-like text MsgPack and CBOR are shown as: one member
// or element per line, 2-space indentation, keys as Key, strings as String.

// appendQuoted appends s as a double-quoted string: JSON escapes for
// quotes, backslashes and controls, \xNN for bytes that are not UTF-8, \u
// escapes for the runes escapeRune names; other runes as they are.
func appendQuoted(dst []byte, s []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case !printable[c]:
				dst = appendU16(dst, rune(c))
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, '\\', 'x', hexd[c>>4], hexd[c&15])
		case escapeRune(r):
			dst = appendU16(dst, r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// appendHexBytes appends b as h'…'.
func appendHexBytes(dst []byte, b []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, 'h', '\'')
	for _, c := range b {
		dst = append(dst, hexd[c>>4], hexd[c&15])
	}
	return append(dst, '\'')
}

// formatFloat formats f as JSON would, with NaN and Infinity spelt out.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'N' || c == 'I' {
			return s
		}
	}
	return s + ".0"
}

// tree writes JSON-like nested values to a builder. Containers open with
// open and close with close; sep separates members; with no builder it
// writes nothing.
type tree struct {
	b     *builder
	depth int
}

func (t *tree) put(c Class, s string) {
	if t.b != nil {
		put(t.b, c, s)
	}
}

func (t *tree) putBytes(c Class, s []byte) {
	if t.b != nil {
		put(t.b, c, s)
	}
}

// open writes the opening bracket of a container of n members.
func (t *tree) open(bracket string, n int) {
	t.put(Punct, bracket)
	if n > 0 {
		t.depth++
		t.nl()
	}
}

// close writes the closing bracket of a container of n members.
func (t *tree) close(bracket string, n int) {
	if n > 0 {
		t.depth--
		t.nl()
	}
	t.put(Punct, bracket)
}

// sep ends a member that another follows.
func (t *tree) sep() {
	t.put(Punct, ",")
	t.nl()
}

func (t *tree) colon() { t.put(Punct, ": ") }

func (t *tree) nl() {
	if t.b != nil {
		t.b.newline(t.depth, 0)
	}
}
