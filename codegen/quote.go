package codegen

import (
	"fmt"
	"strings"
	"unicode"
)

// quote returns s as a double-quoted string literal in the syntax Python
// and JavaScript share: \\ \" \n \r \t, \xHH for the other control
// characters, printable non-ASCII characters as they are, \uHHHH for the
// rest of the Basic Multilingual Plane and astral(r) beyond it. special,
// when set, may escape a rune itself, given the rest of s from it.
func quote(s string, astral func(rune) string, special func(rest string) (string, bool)) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		if special != nil {
			if esc, ok := special(s[i:]); ok {
				b.WriteString(esc)
				continue
			}
		}
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x80 || unicode.IsPrint(r):
				b.WriteRune(r)
			case r <= 0xffff:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteString(astral(r))
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
