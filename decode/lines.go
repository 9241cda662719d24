package decode

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// A lineDoc is formatted text held as one buffer and a line index. The
// buffer holds the display lines back to back without separators or
// indentation; starts[i] is where display line i begins and info[i] holds
// its indentation and flags. Bytes cut by Options.MaxLine are not kept: cuts
// maps the last display line of a cut logical line to the number of bytes
// cut, shown as "…(+N B)".
type lineDoc struct {
	buf    []byte
	cls    []Class // the class of each byte of buf, or nil
	starts []uint32
	info   []uint32
	cuts   map[int]int64
	style  styler
}

// info bits of a display line.
const (
	infoIndent   = 0xffff  // indentation in cells
	infoCont     = 1 << 16 // continues the previous display line (wrapped)
	infoCtxShift = 17      // 2 bits of lexer context, see jsonStyler
)

// A styler colours display lines of a lineDoc.
type styler interface {
	// spans appends to dst the spans of display line i, whose text is
	// d.buf[s:e], with offsets relative to s.
	spans(d *lineDoc, i, s, e int, dst []Span) []Span
}

func (d *lineDoc) Len() int { return len(d.starts) }

// bounds returns where display line i lies in d.buf.
func (d *lineDoc) bounds(i int) (s, e int) {
	s = int(d.starts[i])
	if i+1 < len(d.starts) {
		return s, int(d.starts[i+1])
	}
	return s, len(d.buf)
}

func (d *lineDoc) Line(i int) Line {
	if i < 0 || i >= len(d.starts) {
		return Line{}
	}
	s, e := d.bounds(i)
	ind := int(d.info[i] & infoIndent)
	var suffix string
	if n := d.cuts[i]; n > 0 {
		suffix = cutSuffix(n)
	}
	text := make([]byte, 0, ind+e-s+len(suffix))
	for range ind {
		text = append(text, ' ')
	}
	text = append(text, d.buf[s:e]...)
	var spans []Span
	if d.style != nil && e > s {
		spans = d.style.spans(d, i, s, e, nil)
		for k := range spans {
			spans[k].Start += ind
			spans[k].End += ind
		}
	}
	if suffix != "" {
		spans = append(spans, Span{len(text), len(text) + len(suffix), Meta})
		text = append(text, suffix...)
	}
	return Line{Text: string(text), Spans: spans}
}

func cutSuffix(n int64) string { return "…(+" + strconv.FormatInt(n, 10) + " B)" }

// clsStyler colours a lineDoc from its per-byte classes.
type clsStyler struct{}

func (clsStyler) spans(d *lineDoc, _, s, e int, dst []Span) []Span {
	return appendRuns(dst, d.cls[s:e])
}

// appendRuns appends the runs of non-Plain classes in cls as spans.
func appendRuns(dst []Span, cls []Class) []Span {
	for i := 0; i < len(cls); {
		c := cls[i]
		j := i + 1
		for j < len(cls) && cls[j] == c {
			j++
		}
		if c != Plain {
			dst = append(dst, Span{i, j, c})
		}
		i = j
	}
	return dst
}

var errTooLarge = errors.New("decode: formatted text exceeds 4 GiB")

// builder writes a lineDoc: text is put on the current logical line, and
// newline ends it, cutting it at maxLine bytes and wrapping it at width
// cells less its indentation.
type builder struct {
	d         lineDoc
	width     int
	maxLine   int
	maxIndent int
	styled    bool // keep d.cls
	// adjust moves a cut back from c so that it suits the text of line
	// (e.g. does not split a number); nil keeps c.
	adjust func(line []byte, c int) int

	line  int   // start of the current logical line in d.buf
	total int64 // bytes put on the current logical line, cut ones included
	depth int   // indentation level of the current logical line
	ctx   uint8 // lexer context of the current logical line
	col   int   // cells put on the current logical line, for tab stops
	open  bool  // the current logical line has begun
	err   error
}

func newBuilder(opts Options, styled bool) *builder {
	w := opts.width()
	return &builder{width: w, maxLine: opts.maxLine(), maxIndent: w / 2 &^ 1, styled: styled}
}

// room returns how many more bytes the current logical line may keep: its
// first maxLine bytes and a few more, so that a cut can tell where a rune
// split by it begins.
func (b *builder) room() int {
	return b.line + b.maxLine + utf8.UTFMax - len(b.d.buf)
}

// putByte puts the byte ch as class c.
func (b *builder) putByte(c Class, ch byte) {
	b.open = true
	b.total++
	if b.room() > 0 {
		b.d.buf = append(b.d.buf, ch)
		if b.styled {
			b.d.cls = append(b.d.cls, c)
		}
	}
}

// put puts s as class c.
func put[T ~string | ~[]byte](b *builder, c Class, s T) {
	b.open = true
	b.total += int64(len(s))
	room := b.room()
	if room <= 0 {
		return
	}
	if len(s) > room {
		s = s[:room]
	}
	b.d.buf = append(b.d.buf, s...)
	if b.styled {
		for range len(s) {
			b.d.cls = append(b.d.cls, c)
		}
	}
}

// newline ends the current logical line and begins one at depth with lexer
// context ctx.
func (b *builder) newline(depth int, ctx uint8) {
	b.endLine()
	b.depth, b.ctx, b.open = depth, ctx, true
}

// endLine indexes the current logical line, if it has begun.
func (b *builder) endLine() {
	if !b.open {
		return
	}
	d := &b.d
	L := b.line
	var cut int64
	if b.total > int64(b.maxLine) {
		c := L + b.maxLine
		for c > L && !utf8.RuneStart(d.buf[c]) {
			c--
		}
		if b.adjust != nil {
			c = L + b.adjust(d.buf[L:], c-L)
		}
		cut = b.total - int64(c-L)
		d.buf = d.buf[:c]
		if b.styled {
			d.cls = d.cls[:c]
		}
	}
	if len(d.buf) > math.MaxUint32 {
		b.err = errTooLarge
	}
	ind := min(2*b.depth, b.maxIndent)
	info := uint32(ind) | uint32(b.ctx)<<infoCtxShift
	extra := 0
	if cut > 0 {
		extra = cellWidth([]byte(cutSuffix(cut)))
	}
	if len(d.buf)-L+extra <= b.width-ind { // cells never exceed bytes
		d.starts = append(d.starts, uint32(L))
		d.info = append(d.info, info)
	} else {
		start := L
		wrap(d.buf[L:], b.width-ind, extra, func(end int) {
			d.starts = append(d.starts, uint32(start))
			d.info = append(d.info, info)
			info |= infoCont
			start = L + end
		})
	}
	if cut > 0 {
		if d.cuts == nil {
			d.cuts = map[int]int64{}
		}
		d.cuts[len(d.starts)-1] = cut
	}
	b.line, b.total, b.col, b.open = len(d.buf), 0, 0, false
}

// doc ends the current line and returns the document.
func (b *builder) doc(st styler) (*lineDoc, error) {
	b.endLine()
	if b.err != nil {
		return nil, b.err
	}
	d := b.d
	d.style = st
	if st == nil && b.styled {
		d.style = clsStyler{}
	}
	return &d, nil
}

// asDoc returns d as a Doc, or no Doc at all with an error.
func asDoc(d *lineDoc, err error) (Doc, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// printable marks the ASCII bytes shown as they are.
var printable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	return t
}()

// escapeRune reports whether r, valid and not ASCII, is shown as a \u
// escape: C1 controls, and the bidirectional controls and line separators
// that would reorder or break the terminal line.
func escapeRune(r rune) bool {
	switch {
	case r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029, r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	}
	return false
}

// appendU16 appends the escape \uXXXX of r ≤ 0xffff.
func appendU16(dst []byte, r rune) []byte {
	const hexd = "0123456789abcdef"
	return append(dst, '\\', 'u', hexd[r>>12&15], hexd[r>>8&15], hexd[r>>4&15], hexd[r&15])
}

// controlPicture returns the Control Pictures character for the C0 control
// or DEL c.
func controlPicture(c byte) string {
	if c == 0x7f {
		return "\u2421"
	}
	return string(rune(0x2400 + int(c)))
}

// putVisible puts src as class c with every byte made visible: invalid
// UTF-8 as U+FFFD, C0 controls and DEL as Control Pictures (a tab, if tabs,
// as spaces to the next tab stop of 8), other controls as \u escapes. The
// replacements have class Meta.
func (b *builder) putVisible(c Class, src []byte, tabs bool) {
	for i := 0; i < len(src); {
		j, col := i, b.col
		for j < len(src) {
			ch := src[j]
			if ch < utf8.RuneSelf {
				if !printable[ch] {
					break
				}
				j++
				col++
				continue
			}
			r, size := utf8.DecodeRune(src[j:])
			if (r == utf8.RuneError && size == 1) || escapeRune(r) {
				break
			}
			if tabs {
				col += runeWidth(r)
			}
			j += size
		}
		if j > i {
			put(b, c, src[i:j])
			b.col = col
			i = j
			continue
		}
		ch := src[i]
		switch {
		case ch == '\t' && tabs:
			n := 8 - b.col%8
			put(b, c, "        "[:n])
			b.col += n
			i++
		case ch < utf8.RuneSelf:
			put(b, Meta, controlPicture(ch))
			b.col++
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				put(b, Meta, "\uFFFD")
				b.col++
			} else {
				var e [6]byte
				put(b, Meta, appendU16(e[:0], r))
				b.col += 6
			}
			i += size
		}
	}
}

// catDoc is documents shown one after the other.
type catDoc struct {
	parts []Doc
	ends  []int // ends[k] is the number of lines in parts[:k+1]
}

func newCatDoc(parts ...Doc) Doc {
	c := &catDoc{}
	n := 0
	for _, p := range parts {
		if p == nil || p.Len() == 0 {
			continue
		}
		n += p.Len()
		c.parts = append(c.parts, p)
		c.ends = append(c.ends, n)
	}
	if len(c.parts) == 1 {
		return c.parts[0]
	}
	return c
}

func (c *catDoc) Len() int {
	if len(c.ends) == 0 {
		return 0
	}
	return c.ends[len(c.ends)-1]
}

func (c *catDoc) Line(i int) Line {
	if i < 0 || i >= c.Len() {
		return Line{}
	}
	lo, hi := 0, len(c.ends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.ends[m] <= i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	base := 0
	if lo > 0 {
		base = c.ends[lo-1]
	}
	return c.parts[lo].Line(i - base)
}

// indentDoc is a document shown with n spaces before each line.
type indentDoc struct {
	inner Doc
	n     int
}

func (d indentDoc) Len() int { return d.inner.Len() }

func (d indentDoc) Line(i int) Line {
	l := d.inner.Line(i)
	if d.n == 0 || i < 0 || i >= d.inner.Len() {
		return l
	}
	pad := "                                "
	for len(pad) < d.n {
		pad += pad
	}
	l.Text = pad[:d.n] + l.Text
	for k := range l.Spans {
		l.Spans[k].Start += d.n
		l.Spans[k].End += d.n
	}
	return l
}
