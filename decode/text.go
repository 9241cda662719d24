package decode

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"
)

// checkEvery is how many bytes of input a formatter handles between looks
// at its context.
const checkEvery = 1 << 20

// formatText shows data as lines of text split at \n (a \r before it is
// dropped), each made visible by putVisible and wrapped.
func formatText(ctx context.Context, data []byte, opts Options) (Doc, error) {
	b := newBuilder(opts, false)
	b.d.buf = make([]byte, 0, min(len(data), 64<<20)+len(data)/16)
	next := checkEvery
	for pos := 0; pos < len(data); {
		if pos >= next {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("decode: text: %w", err)
			}
			next = pos + checkEvery
		}
		end := bytes.IndexByte(data[pos:], '\n')
		rest := pos
		if end < 0 {
			end = len(data)
			rest = len(data)
		} else {
			end += pos
			rest = end + 1
		}
		line := data[pos:end]
		if len(line) > 0 && line[len(line)-1] == '\r' && end < len(data) {
			line = line[:len(line)-1]
		}
		b.open = true
		b.putLine(line)
		b.endLine()
		pos = rest
	}
	return asDoc(b.doc(textStyler{}))
}

// putLine puts a line of text with putVisible, and only counts the bytes
// beyond what the line can keep.
func (b *builder) putLine(line []byte) {
	for len(line) > 0 {
		room := b.room()
		if room <= 0 {
			b.total += int64(len(line))
			return
		}
		n := min(len(line), room)
		for n < len(line) && !utf8.RuneStart(line[n]) {
			n++
		}
		b.putVisible(Plain, line[:n], true)
		line = line[n:]
	}
}

// textStyler marks what putVisible put for bytes it could not show as
// they are, as Meta: the replacement character, Control Pictures and the
// \u escapes of escapeRune. (Text that spells such an escape itself looks
// the same and is marked too.)
type textStyler struct{}

func (textStyler) spans(d *lineDoc, _, s, e int, dst []Span) []Span {
	t := d.buf[s:e]
	mark := func(a, b int) {
		if n := len(dst); n > 0 && dst[n-1].End == a {
			dst[n-1].End = b
		} else {
			dst = append(dst, Span{a, b, Meta})
		}
	}
	for i := 0; i < len(t); {
		c := t[i]
		if c == '\\' && i+6 <= len(t) && t[i+1] == 'u' {
			if r := hex4(string(t[i+2 : i+6])); r >= 0x80 && r != utf8.RuneError && escapeRune(r) {
				mark(i, i+6)
				i += 6
				continue
			}
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(t[i:])
		if r == utf8.RuneError || (r >= 0x2400 && r <= 0x2421) {
			mark(i, i+size)
		}
		i += size
	}
	return dst
}
